using System.Security.Cryptography;
using System.Text;

namespace CanaryFlow.Contracts;

/// <summary>
/// Deterministic identifiers, part of the contract so that every publisher (watch, webhook, CLI,
/// chat) addresses the same rollout. One saga per target: its correlation id comes from the
/// target alone; a rollout of one revision has an id from target + revision, so that a duplicated
/// request is recognised as the same rollout.
/// </summary>
public static class RolloutIds
{
    // A fixed namespace for name-based (version 5 style) UUIDs.
    private static readonly byte[] Namespace = Guid.Parse("6f1c2a5e-4b7d-4c1e-9a57-0c6a1f3d2b90").ToByteArray();

    public static Guid ForTarget(RolloutTarget target) => NameBased($"target:{target.Namespace}/{target.Name}");

    public static Guid ForRevision(RolloutTarget target, string revision) =>
        NameBased($"rollout:{target.Namespace}/{target.Name}@{revision}");

    private static Guid NameBased(string name)
    {
        var input = new byte[Namespace.Length + Encoding.UTF8.GetByteCount(name)];
        Namespace.CopyTo(input, 0);
        Encoding.UTF8.GetBytes(name, 0, name.Length, input, Namespace.Length);
        var hash = SHA1.HashData(input);
        var bytes = hash.AsSpan(0, 16).ToArray();
        bytes[7] = (byte)((bytes[7] & 0x0F) | 0x50); // version 5 (Guid byte order: time_hi is little-endian at 6..7)
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80); // RFC 4122 variant
        return new Guid(bytes);
    }
}
