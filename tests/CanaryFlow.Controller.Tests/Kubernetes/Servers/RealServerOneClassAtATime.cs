namespace CanaryFlow.Controller.Tests.Kubernetes.Servers;

/// <summary>
/// The real-server twins of the Kubernetes contract classes share one kube-apiserver, etcd and controller manager
/// on a 2-core machine: run one such class at a time (each beside the sandbox tests), so that the tight deadlines
/// the tests use (a 1 s progress deadline, for one) measure the controller, not a queue on the server. Two of them
/// also compact etcd, which makes every older resourceVersion answer 410 Gone for the others.
/// </summary>
[CollectionDefinition(Name)]
public sealed class RealServerOneClassAtATime
{
    public const string Name = "the shared real API server, one class at a time";
}
