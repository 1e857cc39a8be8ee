using System.Text.RegularExpressions;

namespace CanaryFlow.Controller.Tests.Infrastructure;

/// <summary>One inet connect() a process made, read from <c>strace -e trace=connect</c> output.</summary>
public sealed record ConnectAttempt(string Address, int Port, string Line)
{
    /// <summary>127.0.0.1, also as .NET's dual-mode sockets write it (::ffff:127.0.0.1).</summary>
    public bool IsLoopbackV4 => Address is "127.0.0.1" or "::ffff:127.0.0.1";
}

/// <summary>Reads strace's connect() lines. Unix sockets are local and ignored; every IPv4/IPv6 connect is kept.</summary>
public static partial class ConnectTrace
{
    public static IReadOnlyList<ConnectAttempt> InetConnects(IEnumerable<string> straceLines)
    {
        var attempts = new List<ConnectAttempt>();
        foreach (var line in straceLines)
        {
            if (!line.Contains("connect(", StringComparison.Ordinal) || !line.Contains("sa_family=AF_INET", StringComparison.Ordinal)) continue;
            var v4 = V4().Match(line);
            var v6 = V6().Match(line);
            // A line this parser does not understand counts as a connection elsewhere: the check fails closed.
            attempts.Add(v4.Success ? new(v4.Groups["addr"].Value, int.Parse(v4.Groups["port"].Value), line)
                : v6.Success ? new(v6.Groups["addr"].Value, int.Parse(v6.Groups["port"].Value), line)
                : new("?", -1, line));
        }
        return attempts;
    }

    /// <summary>Connects that went anywhere but 127.0.0.1 at one of <paramref name="allowedPorts"/>.</summary>
    public static IReadOnlyList<ConnectAttempt> NotGiven(IEnumerable<ConnectAttempt> attempts, IReadOnlySet<int> allowedPorts) =>
        attempts.Where(a => !a.IsLoopbackV4 || !allowedPorts.Contains(a.Port)).ToList();

    [GeneratedRegex("""sa_family=AF_INET,\s*sin_port=htons\((?<port>\d+)\),\s*sin_addr=inet_addr\("(?<addr>[^"]+)"\)""")]
    private static partial Regex V4();

    [GeneratedRegex("""sa_family=AF_INET6,\s*sin6_port=htons\((?<port>\d+)\),.*?inet_pton\(AF_INET6,\s*"(?<addr>[^"]+)""")]
    private static partial Regex V6();
}
