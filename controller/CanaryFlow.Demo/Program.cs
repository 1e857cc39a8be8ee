using CanaryFlow.Demo;
using CanaryFlow.Demo.Cluster;
using CanaryFlow.Demo.Embedded;

// The one-command demo: three releases (healthy, faulty, gated) judged by Prometheus, shown live.
//   (no options)                        embedded: sandbox Kubernetes API, simulated mesh, local Prometheus
//   --bus rabbitmq [--rabbitmq-port N]  the controller's bus on a RabbitMQ on 127.0.0.1
//   --kubeconfig PATH --prometheus-url URL [...]   against a real cluster with Istio (see DemoArgs.Usage)
try
{
    var parsed = DemoArgs.Parse(args);
    return parsed.Has("--kubeconfig")
        ? await ClusterDemoCommand.RunAsync(ClusterDemoOptions.FromArgs(parsed))
        : await EmbeddedDemo.RunAsync(parsed);
}
catch (DemoUsageException e)
{
    Console.Error.WriteLine($"canaryflow demo: {e.Message}");
    Console.Error.WriteLine(DemoArgs.Usage);
    return 2;
}
