using System.Security.Cryptography;
using System.Text;

namespace CanaryFlow.Controller.Triggers.Security;

/// <summary>Constant-time checks of shared secrets and HMAC signatures, so that timing reveals nothing about a secret.</summary>
public static class SecretComparer
{
    /// <summary>True when both are non-empty and equal. Hashing first makes the comparison constant-time in the length too.</summary>
    public static bool SecretsEqual(string? presented, string? expected)
    {
        if (string.IsNullOrEmpty(presented) || string.IsNullOrEmpty(expected)) return false;
        return CryptographicOperations.FixedTimeEquals(
            SHA256.HashData(Encoding.UTF8.GetBytes(presented)), SHA256.HashData(Encoding.UTF8.GetBytes(expected)));
    }

    /// <summary>Checks a hex HMAC-SHA256 signature (with an optional prefix such as "sha256=" or "v0=") over <paramref name="message"/>.</summary>
    public static bool HmacSha256HexMatches(string? presented, string prefix, string? secret, ReadOnlySpan<byte> message)
    {
        if (string.IsNullOrEmpty(secret) || presented is null || !presented.StartsWith(prefix, StringComparison.Ordinal)) return false;
        byte[] given;
        try { given = Convert.FromHexString(presented.AsSpan(prefix.Length)); }
        catch (FormatException) { return false; }
        var expected = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), message);
        return CryptographicOperations.FixedTimeEquals(given, expected);
    }

    public static string HmacSha256Hex(string secret, ReadOnlySpan<byte> message) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), message));
}
