using System.Text.Json.Nodes;
using CanaryFlow.Controller.Kubernetes;
using CanaryFlow.Controller.Observability;
using CanaryFlow.Controller.Rollouts;
using CanaryFlow.Controller.Tests.Infrastructure;
using CanaryFlow.Sandbox.Kubernetes;
using k8s;
using k8s.Models;

namespace CanaryFlow.Controller.Tests.Observability;

/// <summary>Every object the chart renders (default and CI values) and every example, checked against its schema.</summary>
public sealed class ManifestTests
{
    // Kinds that are not built into Kubernetes: checked against their CRD (Canary) or for their essentials.
    private static readonly HashSet<string> CustomGroups = ["canaryflow.dev", "networking.istio.io", "security.istio.io", "monitoring.coreos.com"];

    private static bool IsBuiltIn(ManifestDocument d) => !CustomGroups.Contains(d.ApiVersion.Split('/')[0]);

    private static JsonObject CanarySchema()
    {
        var crd = RenderedManifests.In("default.yaml").Single(d => d.Kind == "CustomResourceDefinition" && d.Name == "canaries.canaryflow.dev");
        var version = crd.Json["spec"]!["versions"]!.AsArray().Single(v => v!["storage"]!.GetValue<bool>())!;
        return version["schema"]!["openAPIV3Schema"]!.AsObject();
    }

    [Fact]
    public void The_chart_installs_the_same_CRD_as_manifests_crd()
    {
        var crd = File.ReadAllText(Path.Combine(RepositoryRoot.Path, "manifests", "crd", "canary.yaml"));
        var chart = File.ReadAllText(Path.Combine(RepositoryRoot.Path, "manifests", "helm", "canaryflow", "crds", "canary.yaml"));
        Assert.Equal(crd, chart);
    }

    [Fact]
    public void Install_yaml_is_the_chart_rendered_with_default_values_after_its_namespace()
    {
        var installed = File.ReadAllText(Path.Combine(RepositoryRoot.Path, "manifests", "install.yaml"));
        var rendered = RenderedManifests.Text("install.yaml");
        Assert.True(installed == rendered, "manifests/install.yaml is out of date: run .ci/render-manifests.sh --update");
        Assert.EndsWith(RenderedManifests.Text("default.yaml"), installed);
    }

    [Fact]
    public void Install_yaml_creates_first_the_namespace_that_every_other_object_lives_in()
    {
        var installed = RenderedManifests.Split("install.yaml", File.ReadAllText(Path.Combine(RepositoryRoot.Path, "manifests", "install.yaml")));
        var ns = KubernetesYaml.Deserialize<V1Namespace>(installed[0].Yaml, strict: true);
        Assert.Equal("Namespace", ns.Kind);
        var namespaced = installed.Skip(1).Where(d => d.Json["metadata"]?["namespace"] is not null).ToList();
        Assert.Equal(["ServiceAccount", "Service", "Deployment"], namespaced.Select(d => d.Kind));
        Assert.All(namespaced, d => Assert.Equal(ns.Metadata.Name, d.Json["metadata"]!["namespace"]!.GetValue<string>()));
        var subjects = installed.Single(d => d.Kind == "ClusterRoleBinding").Json["subjects"]!.AsArray();
        Assert.All(subjects, s => Assert.Equal(ns.Metadata.Name, s!["namespace"]!.GetValue<string>()));
        // The chart itself leaves it to `helm install --create-namespace`.
        Assert.DoesNotContain(RenderedManifests.In("default.yaml"), d => d.Kind == "Namespace");
    }

    [Fact]
    public void Every_built_in_object_deserialises_into_the_kubernetes_model_with_unknown_fields_refused()
    {
        var builtIn = RenderedManifests.All.Where(IsBuiltIn).ToList();
        Assert.True(builtIn.Count >= 12, $"only {builtIn.Count} built-in objects rendered");
        foreach (var doc in builtIn)
        {
            var objects = KubernetesYaml.LoadAllFromString(doc.Yaml, null, strict: true);
            var obj = Assert.Single(objects);
            Assert.True(obj is IKubernetesObject k && k.Kind == doc.Kind, $"{doc}: read as {obj.GetType().Name}");
        }
    }

    [Fact]
    public void A_misspelt_field_in_a_built_in_object_is_refused()
    {
        var deployment = RenderedManifests.In("default.yaml").Single(d => d.Kind == "Deployment");
        var misspelt = deployment.Yaml.Replace("  replicas:", "  replica:");
        Assert.NotEqual(deployment.Yaml, misspelt);
        Assert.ThrowsAny<Exception>(() => KubernetesYaml.LoadAllFromString(misspelt, null, strict: true));
    }

    [Fact]
    public void Canary_examples_match_the_crd_openapi_schema()
    {
        var schema = CanarySchema();
        var canaries = RenderedManifests.All.Where(d => d.Kind == "Canary").ToList();
        Assert.True(canaries.Count >= 2, "the examples should hold at least two Canaries");
        foreach (var canary in canaries)
            Assert.True(OpenApiSchemaValidator.Validate(canary.Json, schema) is { Count: 0 } errors, $"{canary}: {string.Join("; ", OpenApiSchemaValidator.Validate(canary.Json, schema))}");
    }

    [Fact]
    public void A_canary_with_a_weight_over_100_an_unknown_field_or_no_target_is_refused_by_the_schema()
    {
        var schema = CanarySchema();
        var canary = RenderedManifests.All.First(d => d.Kind == "Canary").Json.DeepClone().AsObject();
        canary["spec"]!["analysis"]!["steps"] = new JsonArray(10, 150);
        canary["spec"]!["analysis"]!["stepz"] = 5;
        canary["spec"]!.AsObject().Remove("targetRef");

        var errors = OpenApiSchemaValidator.Validate(canary, schema);
        Assert.Contains(errors, e => e.Contains("steps[1]") && e.Contains("should be less than or equal to 100"));
        Assert.Contains(errors, e => e.Contains("unknown field 'stepz'"));
        Assert.Contains(errors, e => e.Contains("spec.targetRef: Required value"));
    }

    [Fact]
    public void The_example_splits_traffic_90_10_between_destination_rule_subsets_with_strict_mtls()
    {
        var docs = RenderedManifests.In("example-checkout-service.yaml");
        var rule = docs.Single(d => d.Kind == "DestinationRule").Json;
        var subsets = rule["spec"]!["subsets"]!.AsArray().Select(s => s!["name"]!.GetValue<string>()).ToHashSet();
        var routes = docs.Single(d => d.Kind == "VirtualService").Json["spec"]!["http"]![0]!["route"]!.AsArray();

        Assert.Equal([90, 10], routes.Select(r => r!["weight"]!.GetValue<int>()));
        Assert.All(routes, r => Assert.Contains(r!["destination"]!["subset"]!.GetValue<string>(), subsets));
        Assert.Equal(rule["spec"]!["host"]!.GetValue<string>(), routes[0]!["destination"]!["host"]!.GetValue<string>());
        Assert.Equal("STRICT", docs.Single(d => d.Kind == "PeerAuthentication").Json["spec"]!["mtls"]!["mode"]!.GetValue<string>());
        // The Canary adopts those very objects: its target is the example's Deployment, its subsets the rule's.
        var canary = docs.Single(d => d.Kind == "Canary").Json["spec"]!;
        Assert.Equal(docs.Single(d => d.Kind == "Deployment").Name, canary["targetRef"]!["name"]!.GetValue<string>());
        Assert.Equal(subsets.Order(), new[] { canary["virtualService"]!["stableSubset"]!.GetValue<string>(), canary["virtualService"]!["canarySubset"]!.GetValue<string>() }.Order());
        Assert.Equal(rule["metadata"]!["name"]!.GetValue<string>(), canary["destinationRule"]!["name"]!.GetValue<string>());
    }

    [Fact]
    public void Non_default_values_add_the_rabbitmq_secret_and_service_monitor_and_wire_them()
    {
        var custom = RenderedManifests.In("custom.yaml");
        var secret = KubernetesYaml.Deserialize<V1Secret>(custom.Single(d => d.Kind == "Secret").Yaml, strict: true);
        var deployment = KubernetesYaml.Deserialize<V1Deployment>(custom.Single(d => d.Kind == "Deployment").Yaml, strict: true);
        var service = KubernetesYaml.Deserialize<V1Service>(custom.Single(d => d.Kind == "Service").Yaml, strict: true);
        var monitor = custom.Single(d => d.Kind == "ServiceMonitor").Json;

        var env = deployment.Spec.Template.Spec.Containers[0].Env;
        Assert.Equal(3, deployment.Spec.Replicas);
        Assert.Equal("RabbitMq", env.Single(e => e.Name == "Bus__Transport").Value);
        Assert.Equal(secret.Metadata.Name, env.Single(e => e.Name == "Bus__RabbitMq__Password").ValueFrom.SecretKeyRef.Name);
        Assert.Contains("password", secret.StringData.Keys);
        Assert.Equal("http://otel-collector.observability:4317", env.Single(e => e.Name == "Observability__OtlpEndpoint").Value);
        Assert.Equal(service.Spec.Ports[0].Name, monitor["spec"]!["endpoints"]![0]!["port"]!.GetValue<string>());
        Assert.Equal("/metrics", monitor["spec"]!["endpoints"]![0]!["path"]!.GetValue<string>());
        foreach (var (key, value) in service.Spec.Selector)
            Assert.Equal(value, monitor["spec"]!["selector"]!["matchLabels"]![key]!.GetValue<string>());
    }

    [Fact]
    public void Sharded_replicas_get_their_partitions_the_broker_cluster_and_a_disruption_budget_over_their_own_pods()
    {
        var custom = RenderedManifests.In("custom.yaml");
        var deployment = KubernetesYaml.Deserialize<V1Deployment>(custom.Single(d => d.Kind == "Deployment").Yaml, strict: true);
        var budget = KubernetesYaml.Deserialize<V1PodDisruptionBudget>(custom.Single(d => d.Kind == "PodDisruptionBudget").Yaml, strict: true);
        var env = deployment.Spec.Template.Spec.Containers[0].Env.ToDictionary(e => e.Name);

        Assert.Equal("12", env["Sharding__Partitions"].Value);
        Assert.Equal("metadata.name", env["Kubernetes__Identity"].ValueFrom.FieldRef.FieldPath); // one Lease holder name per pod
        Assert.Equal(["rabbitmq-0.rabbitmq.messaging.svc", "rabbitmq-1.rabbitmq.messaging.svc", "rabbitmq-2.rabbitmq.messaging.svc:5671"],
            env.Where(e => e.Key.StartsWith("Bus__RabbitMq__Hosts__", StringComparison.Ordinal)).OrderBy(e => e.Key).Select(e => e.Value.Value));
        Assert.Equal("true", env["Bus__RabbitMq__QuorumQueues"].Value);
        Assert.Equal("1", budget.Spec.MaxUnavailable.Value);
        Assert.Equal(deployment.Spec.Selector.MatchLabels, budget.Spec.Selector.MatchLabels);
        // The configuration keys the chart sets are the ones the controller binds.
        Assert.Equal(nameof(CanaryFlow.Controller.Hosting.Sharding.ShardingOptions.Partitions), "Sharding__Partitions".Split("__")[1]);
        Assert.Equal(CanaryFlow.Controller.Hosting.Sharding.ShardingOptions.Section, "Sharding__Partitions".Split("__")[0]);
        Assert.Equal(nameof(CanaryFlow.Controller.Hosting.Sharding.ShardingOptions.ConsumerSilentAfter), "Sharding__ConsumerSilentAfter".Split("__")[1]);
        Assert.Equal(TimeSpan.FromMinutes(1), TimeSpan.Parse(env["Sharding__ConsumerSilentAfter"].Value)); // a value the option binds
        Assert.Equal("300", env["Rollouts__MaxActive"].Value);
        Assert.Equal($"{RolloutEngineOptions.Section}__{nameof(RolloutEngineOptions.MaxActive)}", "Rollouts__MaxActive");
        Assert.Equal("48", env[MaxConcurrentRequestsKey].Value);
    }

    private static readonly string MaxConcurrentRequestsKey = $"{KubernetesOptions.Section}__{nameof(KubernetesOptions.MaxConcurrentRequests)}";

    [Fact]
    public void The_default_chart_bounds_API_requests_in_flight_as_the_controller_does_by_default()
    {
        var deployment = KubernetesYaml.Deserialize<V1Deployment>(RenderedManifests.In("default.yaml").Single(d => d.Kind == "Deployment").Yaml, strict: true);
        var value = deployment.Spec.Template.Spec.Containers[0].Env.Single(e => e.Name == MaxConcurrentRequestsKey).Value;
        Assert.Equal(new KubernetesOptions().MaxConcurrentRequests.ToString(System.Globalization.CultureInfo.InvariantCulture), value);
    }

    [Fact]
    public void One_replica_by_default_has_no_disruption_budget_and_no_sharding()
    {
        var defaults = RenderedManifests.In("default.yaml");
        Assert.DoesNotContain(defaults, d => d.Kind == "PodDisruptionBudget");
        var deployment = KubernetesYaml.Deserialize<V1Deployment>(defaults.Single(d => d.Kind == "Deployment").Yaml, strict: true);
        Assert.Equal(1, deployment.Spec.Replicas);
        Assert.DoesNotContain(deployment.Spec.Template.Spec.Containers[0].Env, e => e.Name.StartsWith("Sharding__", StringComparison.Ordinal));
        Assert.DoesNotContain(deployment.Spec.Template.Spec.Containers[0].Env, e => e.Name == "Rollouts__MaxActive"); // no limit
    }

    [Fact]
    public void Default_values_run_the_in_memory_bus_with_probes_on_the_health_endpoints_and_no_secret()
    {
        var defaults = RenderedManifests.In("default.yaml");
        Assert.DoesNotContain(defaults, d => d.Kind is "Secret" or "ServiceMonitor");
        var deployment = KubernetesYaml.Deserialize<V1Deployment>(defaults.Single(d => d.Kind == "Deployment").Yaml, strict: true);
        var container = deployment.Spec.Template.Spec.Containers[0];
        Assert.Equal("/healthz", container.LivenessProbe.HttpGet.Path);
        Assert.Equal("/readyz", container.ReadinessProbe.HttpGet.Path);
        Assert.Equal("InMemory", container.Env.Single(e => e.Name == "Bus__Transport").Value);
        Assert.True(container.SecurityContext.ReadOnlyRootFilesystem);
    }

    [Fact]
    public void The_grafana_dashboard_queries_only_metrics_the_controller_exports()
    {
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(RepositoryRoot.Path, "manifests", "grafana", "canaryflow-controller.json")))!;
        var metrics = new CanaryFlowMetrics(Prometheus.Metrics.NewCustomRegistry());
        var exported = metrics.MetricNames.ToHashSet();
        var queried = json["panels"]!.AsArray().SelectMany(p => p!["targets"]!.AsArray()).Select(t => t!["expr"]!.GetValue<string>())
            .SelectMany(e => System.Text.RegularExpressions.Regex.Matches(e, "canaryflow_[a-z_]+").Select(m => m.Value))
            .Select(n => System.Text.RegularExpressions.Regex.Replace(n, "_(bucket|count|sum)$", "")).ToHashSet();

        Assert.NotEmpty(queried);
        Assert.All(queried, q => Assert.Contains(q, exported));
        Assert.All(exported, e => Assert.Contains(e, queried)); // every metric has a panel
    }
}
