using CanaryFlow.Analysis.Batching;
using CanaryFlow.Analysis.Prometheus;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace CanaryFlow.Analysis;

public static class AnalysisServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="IAnalysisRunner"/> backed by Prometheus, configured from the
    /// "Prometheus" section and validated at start-up (a bad address stops the host with a clear message).
    /// </summary>
    public static IServiceCollection AddCanaryFlowAnalysis(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<PrometheusOptions>()
            .Bind(configuration.GetSection(PrometheusOptions.SectionName))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PrometheusOptions>, PrometheusOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new PrometheusClient(sp.GetRequiredService<IOptions<PrometheusOptions>>().Value, sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<IPrometheusClient>(sp => sp.GetRequiredService<PrometheusClient>());
        services.TryAddSingleton(new WorkloadInterest());
        services.TryAddSingleton<IAnalysisRunner>(sp => new PrometheusAnalysisRunner(
            sp.GetRequiredService<IPrometheusClient>(),
            sp.GetRequiredService<IOptions<PrometheusOptions>>().Value,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<WorkloadInterest>()));
        services.TryAddSingleton<ISequentialAnalysisRunner>(sp => new SequentialAnalysisRunner(
            sp.GetRequiredService<IPrometheusClient>(),
            sp.GetRequiredService<IOptions<PrometheusOptions>>().Value,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<IAnalysisRunner>(),
            sp.GetRequiredService<WorkloadInterest>()));
        return services;
    }
}
