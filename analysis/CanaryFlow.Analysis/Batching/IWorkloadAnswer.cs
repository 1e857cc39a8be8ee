namespace CanaryFlow.Analysis.Batching;

/// <summary>A shared answer that knows which workloads it holds (<see cref="WorkloadQueryBatcher.NamedAsync{T}"/>).</summary>
public interface IWorkloadAnswer
{
    /// <summary>Whether the query named its workloads (Prometheus read only theirs) rather than reading the namespace.</summary>
    bool Named { get; }

    /// <summary>Whether the answer holds <paramref name="workload"/>'s series, or knows it has none.</summary>
    bool Covers(string workload);
}
