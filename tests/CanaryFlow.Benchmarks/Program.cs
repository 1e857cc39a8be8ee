using CanaryFlow.Benchmarks.Analysis;
using CanaryFlow.Benchmarks.Engine;
using CanaryFlow.Benchmarks.Load;
using CanaryFlow.Benchmarks.Reliability;
using CanaryFlow.Benchmarks.Sequential;

// Load harness and benchmarks. Each prints figures; none asserts on time.
//   engine   [--transport InMemory|RabbitMq] [--rollouts 1000] [--rabbitmq-port N] [--interval-ms 1000] [--warmup-rollouts 0] [--steady-s 0] [--concurrency 64] [--as-shipped: under the controller's runtime settings]
//   faults   [--rollouts 6 per scenario] [--rabbitmq-port N] [--only S]                                     (.ci/reliability faults)
//   load     [--rollouts 100] [--interval-seconds 10] [--mode sequential|fixed-window] [--evidence-write-s 30] [--max-active N] [--csv FILE] [--rabbitmq-port N]   (.ci/bench)
//   reaction [--rollouts 3 per group] [--rabbitmq-port N]: CanaryFlow vs Flagger defaults ÷5, alert → stable
//   plot     --csv FILE --png FILE
//   analysis [--canaries 1000] [--ticks 3]: one analysis tick for N canaries against a real Prometheus; Mann-Whitney timing
//   notify-hour [--rollouts 20]: a notification channel down for an hour of simulated time (.ci/reliability notify-hour)
//   counters-read [--workloads 10000] [--replicas 3] [--reads 20]: allocation per namespace read of the sequential counters, whole vs owned workloads only
//   body-pool --variant chunks|pooled-array [--workloads 2000] [--concurrency 12] [--rounds 20]: what reading large Prometheus answers leaves on the large-object heap
//   sequential [--healthy-runs 1000] [--runs 200] [--seed 1] [--tick-seconds 5] [--alpha 0.05] [--load-factor 1] [--only TEXT] [--prometheus [--prometheus-runs 2]]: four judges on seeded request streams (docs/sequential-analysis.md)
//   replica-memory [--rollouts 1000]: managed memory of a sharded replica's status store and cluster-wide index (bytes, no lock)
//   scale    [--rollouts 1000] [--replicas 3] [--partitions 12] [--interval-seconds 10] [--step-weight 25] [--mode fixed-window|sequential] [--services-per-target N (default: one target)] [--no-latency-series] [--time-limit-s 900] [--kill] [--pause-s N] [--settle-s 60] [--max-active N (per replica; 0 = no limit)]: sharded replicas on a 3-node RabbitMQ (CANARYFLOW_RABBITMQ_CLUSTER_PORTS)
//   mesh-exposition [--services 3000] [--services-per-target 100] [--rounds 20] [--no-latency-series]: what one exposition of the synthetic mesh costs, over HTTP, on K-service targets or one
//   target-metrics [--targets 1000] [--namespaces 10]: managed heap the controller's per-target metrics keep per Canary, and one /metrics exposition (bytes, no lock)
//   kill     [--rollouts 50] [--seed 42] [--kills 12] [--rabbitmq-port N] [--interval-seconds 4]   (.ci/reliability kill)
return args.FirstOrDefault() switch
{
    "engine" => await EngineLoad.RunAsync(args[1..]),
    "engine-header" => Print(EngineLoad.Header),
    "kill" => await KillHarness.RunAsync(args[1..]),
    "scale" => await CanaryFlow.Benchmarks.Scale.ScaleHarness.RunAsync(args[1..]),
    "target-metrics" => await TargetMetricsProbe.RunAsync(args[1..]),
    "replica-memory" => await CanaryFlow.Benchmarks.Scale.ReplicaMemoryProbe.RunAsync(args[1..]),
    "mesh-exposition" => await MeshExpositionProbe.RunAsync(args[1..]),
    "faults" => await FaultsHarness.RunAsync(args[1..]),
    "notify-hour" => await NotificationHourHarness.RunAsync(args[1..]),
    "load" => await LoadHarness.RunAsync(args[1..]),
    "reaction" => await ReactionHarness.RunAsync(args[1..]),
    "plot" => LoadPlot.Run(args[1..]),
    "analysis" => await AnalysisBenchmark.RunAsync(args[1..]),
    "body-pool" => await BodyPoolBenchmark.RunAsync(args[1..]),
    "counters-read" => await CounterReadBenchmark.RunAsync(args[1..]),
    "sequential" => SequentialBenchmark.Run(args[1..]),
    _ => Usage(),
};

static int Print(string text) { Console.WriteLine(text); return 0; }

static int Usage()
{
    Console.Error.WriteLine("usage: CanaryFlow.Benchmarks engine|kill|scale|faults|notify-hour|load|reaction|plot|analysis|sequential [--rollouts N] [--rabbitmq-port N] ... (see Program.cs)");
    return 2;
}
