using CanaryFlow.Benchmarks.Engine;

// Load harness and benchmarks. Each prints figures; none asserts on time.
//   engine   [--transport InMemory|RabbitMq] [--rollouts 1000] [--rabbitmq-port N] [--interval-ms 1000]
return args.FirstOrDefault() switch
{
    "engine" => await EngineLoad.RunAsync(args[1..]),
    "engine-header" => Print(EngineLoad.Header),
    _ => Usage(),
};

static int Print(string text) { Console.WriteLine(text); return 0; }

static int Usage()
{
    Console.Error.WriteLine("usage: CanaryFlow.Benchmarks engine [--transport InMemory|RabbitMq] [--rollouts N] [--rabbitmq-port N]");
    return 2;
}
