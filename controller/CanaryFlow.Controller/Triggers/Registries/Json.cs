using System.Text.Json;

namespace CanaryFlow.Controller.Triggers.Registries;

/// <summary>Small readers over payload JSON that turn a missing or mistyped field into a 400, not a crash.</summary>
internal static class Json
{
    public static JsonElement Parse(byte[] body)
    {
        // Checked whole, once: the parser checks structure, but a string's bytes are decoded only when read.
        if (!System.Text.Unicode.Utf8.IsValid(body)) throw new MalformedPayloadException("The body is not valid UTF-8.");
        using var document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 32 });
        var root = document.RootElement.Clone();
        return root.ValueKind == JsonValueKind.Object ? root : throw new MalformedPayloadException("The body must be a JSON object.");
    }

    public static JsonElement? Child(this JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    public static JsonElement RequiredObject(this JsonElement e, string name) =>
        e.Child(name) is { ValueKind: JsonValueKind.Object } v ? v : throw new MalformedPayloadException($"'{name}' must be an object.");

    public static string? OptionalString(this JsonElement e, string name) => e.Child(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } v => v.GetString(),
        _ => throw new MalformedPayloadException($"'{name}' must be a string."),
    };


    public static string RequiredString(this JsonElement e, string name) =>
        e.OptionalString(name) is { Length: > 0 } s ? s : throw new MalformedPayloadException($"'{name}' is required.");

    /// <summary>Unix seconds (Docker Hub writes them as floats, Harbor as integers).</summary>
    public static DateTimeOffset? OptionalUnixSeconds(this JsonElement e, string name) => e.Child(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.Number } v when v.TryGetDouble(out var s) && s is > 0 and < 1e11 => DateTimeOffset.FromUnixTimeMilliseconds((long)(s * 1000)),
        _ => throw new MalformedPayloadException($"'{name}' must be a Unix time in seconds."),
    };

    public static DateTimeOffset? OptionalTimestamp(this JsonElement e, string name) => e.OptionalString(name) switch
    {
        null => null,
        var s => ParseTimestamp(s, name),
    };

    public static DateTimeOffset ParseTimestamp(string text, string name) =>
        // RFC 3339 with up to nanoseconds (ACR writes 9 digits, which DateTimeOffset cannot parse): keep 7.
        DateTimeOffset.TryParse(TrimFraction(text), System.Globalization.CultureInfo.InvariantCulture,
            System.Globalization.DateTimeStyles.AssumeUniversal, out var at)
            ? at : throw new MalformedPayloadException($"'{name}' must be an RFC 3339 time.");

    private static string TrimFraction(string text)
    {
        var dot = text.IndexOf('.');
        if (dot < 0) return text;
        var end = dot + 1;
        while (end < text.Length && char.IsAsciiDigit(text[end])) end++;
        return end - dot - 1 > 7 ? text[..(dot + 8)] + text[end..] : text;
    }
}
