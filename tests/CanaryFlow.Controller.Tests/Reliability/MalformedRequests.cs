using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using CanaryFlow.Controller.Tests.Triggers;
using CanaryFlow.Controller.Triggers.Security;
using CanaryFlow.Controller.Web;

namespace CanaryFlow.Controller.Tests.Reliability;

/// <summary>One generated request and what kind of badness it carries (for the tally).</summary>
public sealed record BadRequest(string Endpoint, string Kind, bool Oversized, Func<HttpRequestMessage> Build);

/// <summary>
/// A seeded generator of bad requests for every HTTP endpoint of the controller: random bytes, invalid
/// UTF-8, truncated and type-mutated real payloads, deep nesting, huge numbers, wrong content types, empty
/// and oversized bodies; each unsigned, signed with a wrong secret, or correctly signed (so that the parsers
/// behind authentication are reached too). Never a valid command: nothing may be published.
/// </summary>
public sealed class MalformedRequests(int seed)
{
    private readonly Random _random = new(seed);

    private const string AlertmanagerSample = """
        {"version":"4","groupKey":"{}:{}","truncatedAlerts":0,"status":"firing","receiver":"canaryflow","groupLabels":{},"commonLabels":{},
         "commonAnnotations":{},"externalURL":"http://127.0.0.1:9093","alerts":[{"status":"firing","labels":{"alertname":"HighErrorRate",
         "namespace":"rel","canary":"checkout"},"annotations":{},"startsAt":"2026-11-25T10:00:00Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"abc"}]}
        """;

    private const string SlackClickSample = """
        {"type":"block_actions","user":{"id":"U0OTHER","username":"mallory"},"response_url":"https://hooks.slack.com/actions/1",
         "actions":[{"action_id":"canaryflow-promote","value":"rel/checkout"}]}
        """;

    private static readonly (string Name, string Sample)[] Registries =
    [
        ("dockerhub", ExamplePayloads.DockerHub), ("harbor", ExamplePayloads.Harbor), ("github", ExamplePayloads.GitHubPackage),
        ("acr", ExamplePayloads.Acr), ("cloudevents", ExamplePayloads.HarborCloudEvent),
    ];

    public IEnumerable<BadRequest> Generate(int count)
    {
        for (var i = 0; i < count; i++)
        {
            var endpoint = _random.Next(10);
            yield return endpoint switch
            {
                < 5 => Registry(Registries[endpoint]),
                5 or 6 => Alertmanager(),
                7 => SlackCommand(),
                8 => SlackInteraction(),
                _ => Api(),
            };
        }
    }

    private BadRequest Registry((string Name, string Sample) registry)
    {
        var (kind, body, oversized) = Body(registry.Sample);
        var auth = _random.Next(3); // 0 none, 1 wrong secret, 2 right secret
        var secret = auth == 2 ? WholeController.RegistrySecret : "wrong-secret-" + _random.Next(1_000_000);
        var contentType = RandomContentType(registry.Name == "cloudevents" ? "application/cloudevents+json" : "application/json");
        var gitHubEvent = _random.Next(2) == 0 ? "package" : "registry_package"; // drawn here: Build must not touch the generator
        return new BadRequest(registry.Name, $"{kind}/{AuthName(auth)}", oversized,
            () => SignedRegistryRequest(registry.Name, body, auth == 0 ? null : secret, contentType, gitHubEvent));
    }

    public static string SampleOf(string registry) => Registries.Single(r => r.Name == registry).Sample;

    /// <summary>A request to one registry receiver, authenticated the way that registry does it (null secret: not at all).</summary>
    public static HttpRequestMessage SignedRegistryRequest(string registry, byte[] body, string? secret = WholeController.RegistrySecret,
        string contentType = "application/json", string gitHubEvent = "registry_package")
    {
        var path = registry == "dockerhub" ? $"/webhooks/registry/dockerhub/{Uri.EscapeDataString(secret ?? "")}" : $"/webhooks/registry/{registry}";
        var request = Post(path, body, registry == "cloudevents" && contentType == "application/json" ? "application/cloudevents+json" : contentType);
        if (secret is null) return request;
        switch (registry)
        {
            case "harbor": request.Headers.TryAddWithoutValidation("Authorization", secret); break;
            case "github":
                request.Headers.Add("X-Hub-Signature-256", "sha256=" + SecretComparer.HmacSha256Hex(secret, body));
                request.Headers.Add("X-GitHub-Event", gitHubEvent);
                request.Headers.Add("X-GitHub-Delivery", Guid.NewGuid().ToString());
                break;
            case "acr" or "cloudevents": request.Headers.Add("X-CanaryFlow-Secret", secret); break;
        }
        return request;
    }

    /// <summary>The sample with a byte that is never valid UTF-8 (0xFF) at the start of every string value.</summary>
    public static byte[] WithInvalidUtf8InStrings(string sample)
    {
        var bytes = new List<byte>();
        var text = Encoding.UTF8.GetBytes(sample);
        for (var i = 0; i < text.Length; i++)
        {
            bytes.Add(text[i]);
            // ':' then optional spaces then '"': the opening quote of a string value.
            if (text[i] == (byte)'"' && i > 0 && PreviousNonSpace(text, i - 1) == (byte)':') bytes.Add(0xFF);
        }
        return [.. bytes];
    }

    private static byte PreviousNonSpace(byte[] text, int i)
    {
        while (i > 0 && text[i] is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t') i--;
        return text[i];
    }

    private BadRequest Alertmanager()
    {
        var (kind, body, oversized) = Body(AlertmanagerSample);
        var auth = _random.Next(3);
        var contentType = RandomContentType("application/json");
        return new BadRequest("alertmanager", $"{kind}/{AuthName(auth)}", oversized, () =>
        {
            var request = Post("/webhooks/alertmanager", body, contentType);
            if (auth > 0) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", auth == 2 ? WholeController.AlertmanagerToken : "not-the-token-123456789");
            return request;
        });
    }

    private BadRequest SlackInteraction()
    {
        var (kind, payload, oversized) = Body(SlackClickSample);
        var form = _random.Next(4) switch
        {
            0 => payload, // not a form at all
            1 => Encoding.UTF8.GetBytes("payload=%ZZ%").Concat(payload).ToArray(),
            _ => Encoding.UTF8.GetBytes("payload=" + Uri.EscapeDataString(Encoding.UTF8.GetString(payload).Length > 30_000 ? new string('x', 70_000) : Encoding.UTF8.GetString(payload))),
        };
        return Slack("/slack/interactions", kind, form, oversized || form.Length > 64 * 1024);
    }

    private BadRequest SlackCommand()
    {
        string[] texts = ["", "promote", "promote nowhere", "promote /x", "promote x/", "frobnicate rel/checkout", "\u0000 rel/x",
            "abort " + new string('a', 5000), "promote rel/a/" + new string('%', 300), "pause ../../etc", "résumé rel/x"];
        var text = texts[_random.Next(texts.Length)];
        if (SlackCommands.ParseText(text) is not null) throw new InvalidOperationException($"generator produced a valid command: {text}");
        var user = _random.Next(2) == 0 ? WholeController.SlackUser : "";
        var fields = new List<string> { "command=%2Fcanary", "text=" + Uri.EscapeDataString(text) };
        if (user.Length > 0 || _random.Next(2) == 0) fields.Add("user_id=" + user);
        if (_random.Next(3) == 0) fields.Add("user_id=U1&user_id=U2"); // repeated keys
        var body = Encoding.UTF8.GetBytes(string.Join('&', fields.OrderBy(_ => _random.Next())));
        if (_random.Next(5) == 0) body = [.. body, 0xFF, 0xFE, 0xC3, 0x28]; // not UTF-8
        return Slack("/slack/commands", "form", body, false);
    }

    private BadRequest Slack(string path, string kind, byte[] body, bool oversized)
    {
        var auth = _random.Next(4); // 0 none, 1 wrong secret, 2 right secret, 3 right secret but stale
        var timestamp = (DateTimeOffset.UtcNow.ToUnixTimeSeconds() - (auth == 3 ? 3600 : 0)).ToString(CultureInfo.InvariantCulture);
        var secret = auth == 1 ? "another-secret-0123456789abcdef" : WholeController.SlackSecret;
        var badTimestamp = _random.Next(8) == 0 ? "99999999999999999999" : timestamp;
        return new BadRequest(path, $"{kind}/{AuthName(auth)}", oversized, () =>
        {
            var request = Post(path, body, "application/x-www-form-urlencoded");
            if (auth == 0) return request;
            request.Headers.Add("X-Slack-Request-Timestamp", badTimestamp);
            request.Headers.Add("X-Slack-Signature", "v0=" + SecretComparer.HmacSha256Hex(secret, [.. Encoding.UTF8.GetBytes($"v0:{timestamp}:"), .. body]));
            return request;
        });
    }

    private BadRequest Api()
    {
        string[] names = ["checkout", "", "%00", "..", "a%2Fb", new string('n', 3000), "%E2%28%A1", "rel%20x", "{name}", "<script>"];
        var ns = names[_random.Next(names.Length)];
        var name = names[_random.Next(names.Length)];
        var suffix = new[] { "", "/timeline", "/report.png", "/x/y" }[_random.Next(4)];
        var method = new[] { HttpMethod.Get, HttpMethod.Get, HttpMethod.Post, HttpMethod.Delete, HttpMethod.Put }[_random.Next(5)];
        var path = _random.Next(6) == 0 ? "/api/rollouts" : $"/api/rollouts/{ns}/{name}{suffix}";
        var (kind, body, oversized) = method == HttpMethod.Get ? ("none", Array.Empty<byte>(), false) : Body(AlertmanagerSample);
        return new BadRequest("/api", $"{method}/{kind}", oversized, () =>
            new HttpRequestMessage(method, path) { Content = method == HttpMethod.Get ? null : new ByteArrayContent(body) });
    }

    /// <summary>A bad body, derived from a real sample where that makes the badness subtle.</summary>
    private (string Kind, byte[] Body, bool Oversized) Body(string sample)
    {
        var bytes = Encoding.UTF8.GetBytes(sample);
        switch (_random.Next(10))
        {
            case 0: return ("empty", [], false);
            case 1:
                var garbage = new byte[_random.Next(1, 4096)];
                _random.NextBytes(garbage);
                return ("random-bytes", garbage, false);
            case 2: return ("truncated", bytes[.._random.Next(1, bytes.Length)], false);
            case 3:
                var invalid = (byte[])bytes.Clone();
                for (var i = 0; i < 5; i++) invalid[_random.Next(invalid.Length)] = (byte)(0x80 + _random.Next(0x7F)); // lone continuation bytes
                return ("invalid-utf8", invalid, false);
            case 4: return ("deep-nesting", Encoding.UTF8.GetBytes(new string('[', 5000) + new string(']', 5000)), false);
            case 5:
                var size = _random.Next(300 * 1024, 1200 * 1024);
                return ("oversized", Encoding.UTF8.GetBytes("{\"pad\":\"" + new string('a', size) + "\"}"), true);
            case 6: return ("wrong-shape", Encoding.UTF8.GetBytes(new[] { "[]", "42", "\"text\"", "null", "true", "{}", "[{}]" }[_random.Next(7)]), false);
            default: return ("mutated", Encoding.UTF8.GetBytes(Mutate(JsonNode.Parse(sample)!).ToJsonString()), false);
        }
    }

    /// <summary>Replaces a few values anywhere in the document with values of the wrong type or size.</summary>
    private JsonNode Mutate(JsonNode root)
    {
        var slots = new List<(JsonNode Parent, object Key)>();
        void Walk(JsonNode? node)
        {
            if (node is JsonObject o) foreach (var (k, v) in o.ToList()) { slots.Add((o, k)); Walk(v); }
            else if (node is JsonArray a) for (var i = 0; i < a.Count; i++) { slots.Add((a, i)); Walk(a[i]); }
        }
        Walk(root);
        for (var n = 0; n < 3 && slots.Count > 0; n++)
        {
            var (parent, key) = slots[_random.Next(slots.Count)];
            JsonNode? value = _random.Next(8) switch
            {
                0 => null,
                1 => JsonValue.Create(-1),
                2 => JsonValue.Create(1e300),
                3 => new JsonArray(1, "two", null),
                4 => new JsonObject { ["x"] = "y" },
                5 => JsonValue.Create(new string('z', 10_000)),
                6 => JsonValue.Create("../../\u0000\ud800"),
                _ => JsonValue.Create(long.MaxValue),
            };
            try
            {
                if (parent is JsonObject o) o[(string)key] = value;
                else ((JsonArray)parent)[(int)key] = value;
            }
            catch (InvalidOperationException) { } // the slot's node was detached by an earlier mutation
        }
        return root;
    }

    private string RandomContentType(string usual) =>
        _random.Next(6) switch { 0 => "text/plain", 1 => "application/json; charset=latin1", 2 => "multipart/form-data; boundary=x", _ => usual };

    private static string AuthName(int auth) => auth switch { 0 => "unsigned", 1 => "wrong-secret", 2 => "signed", _ => "stale" };

    private static HttpRequestMessage Post(string path, byte[] body, string contentType)
    {
        var content = new ByteArrayContent(body);
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        return new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
    }
}
