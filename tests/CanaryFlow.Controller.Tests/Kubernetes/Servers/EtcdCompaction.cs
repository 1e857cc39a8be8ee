namespace CanaryFlow.Controller.Tests.Kubernetes.Servers;

/// <summary>
/// Test classes that compact the shared real server's etcd: one compaction makes every older resourceVersion
/// answer 410 Gone, so a test that counts its own relists must not run beside another that compacts.
/// </summary>
[CollectionDefinition(Name)]
public sealed class EtcdCompaction
{
    public const string Name = "etcd compaction on the real server";
}
