using CanaryFlow.Controller.Kubernetes.Api;
using CanaryFlow.Controller.Kubernetes.Deletion;
using CanaryFlow.Controller.Kubernetes.Leadership;
using CanaryFlow.Controller.Kubernetes.Routing;
using CanaryFlow.Controller.Kubernetes.Routing.GatewayApi;
using CanaryFlow.Controller.Kubernetes.Status;
using CanaryFlow.Controller.Kubernetes.Triggers;
using CanaryFlow.Controller.Kubernetes.Watch;
using CanaryFlow.Controller.Kubernetes.Workloads;
using CanaryFlow.Controller.Seams;
using CanaryFlow.Controller.Triggers;
using k8s;
using MassTransit;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Controller.Kubernetes;

public static class KubernetesServiceCollectionExtensions
{
    /// <summary>
    /// The Kubernetes adapters behind the seams (traffic router, workload controller, rollout store, tracked
    /// targets, image updater), leader election (<see cref="ILeadership"/>) and the Deployment watch, all on
    /// one resilient client configured from the "Kubernetes" section. Register the Event recorder on the bus
    /// with <see cref="AddCanaryFlowKubernetesConsumers"/>.
    /// </summary>
    public static IServiceCollection AddCanaryFlowKubernetes(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<KubernetesOptions>().Bind(configuration.GetSection(KubernetesOptions.Section))
            .PostConfigure(o => { if (o.Namespaces.Count == 0) o.Namespaces.Add("default"); })
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<KubernetesOptions>, KubernetesOptionsValidator>();
        services.TryAddSingleton(TimeProvider.System);
        var electionEnabled = configuration.GetSection(KubernetesOptions.Section).GetValue(nameof(KubernetesOptions.LeaderElection), true);
        var sharded = Hosting.Sharding.ShardingOptions.From(configuration).Enabled;
        // Sharded: open for writes that are for no rollout in particular; a rollout's writes pass per partition Lease.
        services.AddSingleton(new WriteFence(open: !electionEnabled || sharded));
        services.TryAddSingleton<IKubernetes>(sp => KubernetesClientFactory.Create(sp.GetRequiredService<IOptions<KubernetesOptions>>(),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<WriteFence>()));

        services.AddSingleton<CanaryApi>();
        services.AddSingleton<Deployments>();
        services.AddSingleton<DeploymentWaiter>();
        services.AddSingleton<PrimaryAutoscaler>();
        services.AddSingleton<PrimaryMigration>();
        services.AddSingleton<ServiceSelectors>();
        services.AddSingleton<VirtualServiceWeights>();
        services.AddSingleton<RoutingObjects>();
        services.AddSingleton<CanaryInitializer>();
        services.AddSingleton<CanaryStatusWriter>();
        services.AddSingleton<CanaryFinalizer>();
        services.AddSingleton<CanaryReverter>();
        services.AddSingleton<CanaryDeletion>();
        services.AddHttpClient(Templates.PromQlParseCheck.HttpClientName).RemoveAllLoggers();
        // The parse check asks the controller's Prometheus (the analysis binds the same section; binding twice is harmless).
        services.AddOptions<CanaryFlow.Analysis.Prometheus.PrometheusOptions>().Bind(configuration.GetSection(CanaryFlow.Analysis.Prometheus.PrometheusOptions.SectionName));
        services.AddSingleton<Templates.PromQlParseCheck>();
        services.AddSingleton<Templates.CanaryPlanResolver>();

        services.AddSingleton<HttpRouteObjects>();
        services.AddSingleton<Routing.Strategies.AbMatchRoute>();
        services.AddSingleton<Routing.Strategies.AffinityRoute>();
        services.AddSingleton<Routing.Strategies.MirrorRoute>();
        services.AddSingleton<KubernetesTrafficRouter>();
        services.AddSingleton<GatewayApiTrafficRouter>();
        services.AddSingleton<ITrafficRouter, ProviderTrafficRouter>(); // per Canary: spec.provider picks Istio or Gateway API
        services.AddSingleton<IWorkloadController, KubernetesWorkloadController>();
        services.AddSingleton<IRolloutStore, CanaryStatusRolloutStore>();
        services.AddSingleton<CanaryStatusIndex>(); // every Canary's status in brief, fed by the watch of one replica alone
        services.AddSingleton<ClusterCanaryStatuses>(); // the cluster-wide status view's source: that index, or sharded a list
        services.AddSingleton<ITrackedTargets, CanaryTrackedTargets>();
        services.AddSingleton<IImageUpdater, KubernetesImageUpdater>();

        if (sharded)
        {
            // Active-active replicas: a Lease per rollout partition instead of one for a single leader.
            services.AddOptions<Hosting.Sharding.ShardingOptions>().Bind(configuration.GetSection(Hosting.Sharding.ShardingOptions.Section));
            services.TryAddSingleton<Hosting.Sharding.EngineReady>();
            services.AddSingleton<PartitionLeases>();
            services.AddSingleton<Hosting.Sharding.IPartitionOwnership>(sp => sp.GetRequiredService<PartitionLeases>());
            services.AddHostedService(sp => sp.GetRequiredService<PartitionLeases>());
            services.AddSingleton<ILeadership, AlwaysLeader>();
            services.AddSingleton<IPartitionHolders, LeasePartitionHolders>();
        }
        else if (electionEnabled)
        {
            services.AddSingleton<LeaseLeadership>();
            services.AddSingleton<ILeadership>(sp => sp.GetRequiredService<LeaseLeadership>());
            services.AddHostedService(sp => sp.GetRequiredService<LeaseLeadership>());
        }
        else services.AddSingleton<ILeadership, AlwaysLeader>();

        services.TryAddSingleton<Hosting.Sharding.IPartitionOwnership, Hosting.Sharding.WholeOwnership>();
        services.AddHostedService<DeploymentWatcher>();
        return services;
    }

    /// <summary>Call inside <c>AddMassTransit(x => ...)</c>: Kubernetes Events on the Canary for every transition.</summary>
    /// <summary>Metrics of templates with their own Prometheus address are asked there (wraps the registered runner).</summary>
    public static IServiceCollection AddMetricTemplateSources(this IServiceCollection services)
    {
        var runner = services.LastOrDefault(d => d.ServiceType == typeof(CanaryFlow.Analysis.IAnalysisRunner));
        if (runner?.ImplementationFactory is not { } factory) return services;
        services.Remove(runner);
        services.AddSingleton<CanaryFlow.Analysis.IAnalysisRunner>(sp => new Templates.SourcedAnalysisRunner(
            (CanaryFlow.Analysis.IAnalysisRunner)factory(sp), sp.GetRequiredService<IKubernetes>(),
            sp.GetRequiredService<IOptions<CanaryFlow.Analysis.Prometheus.PrometheusOptions>>().Value, sp.GetRequiredService<TimeProvider>()));
        return services;
    }

    public static IBusRegistrationConfigurator AddCanaryFlowKubernetesConsumers(this IBusRegistrationConfigurator bus)
    {
        bus.AddConsumer<CanaryEventRecorder>();
        bus.AddConsumer<CanaryHookRecorder>();
        return bus;
    }
}
