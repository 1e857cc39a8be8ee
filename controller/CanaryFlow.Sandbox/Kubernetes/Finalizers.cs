using System.Text.Json.Nodes;

namespace CanaryFlow.Sandbox.Kubernetes;

/// <summary>
/// The API server's rules for <c>metadata.finalizers</c>: a DELETE of an object that has some only marks it
/// (deletionTimestamp now, deletionGracePeriodSeconds 0, generation + 1, as the real server's markAsDeleting
/// does); no finalizer can be added once it is marked; and the update that removes the last one deletes it.
/// </summary>
public static class Finalizers
{
    public static bool Pending(JsonObject obj) => Names(obj["metadata"] as JsonObject).Count > 0;

    public static bool IsDeleting(JsonObject obj) => obj["metadata"]?["deletionTimestamp"] is not null;

    /// <summary>True when the object is marked for deletion and nothing holds it any more.</summary>
    public static bool Released(JsonObject obj) => IsDeleting(obj) && !Pending(obj);

    /// <returns>The marked copy, or null when it was marked already (a second DELETE changes nothing).</returns>
    public static JsonObject? MarkDeleting(JsonObject existing, string now)
    {
        if (IsDeleting(existing)) return null;
        var marked = (JsonObject)existing.DeepClone();
        var meta = (JsonObject)marked["metadata"]!;
        meta["deletionTimestamp"] = now;
        meta["deletionGracePeriodSeconds"] = 0;
        meta["generation"] = ((long?)meta["generation"] ?? 1) + 1;
        return marked;
    }

    /// <exception cref="ApiError">422 when an update adds a finalizer to an object being deleted.</exception>
    public static void CheckNoneAdded(ResourceKind kind, string name, JsonObject oldMeta, JsonObject newMeta)
    {
        if (oldMeta["deletionTimestamp"] is null) return;
        var added = Names(newMeta).Except(Names(oldMeta)).ToList();
        if (added.Count > 0)
            throw ApiError.Invalid(kind, name, "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, " +
                                              $"found new finalizers []string{{{string.Join(", ", added.Select(a => $"\"{a}\""))}}}");
    }

    /// <exception cref="ApiError">422 when an update sets a deletionTimestamp on an object not being deleted (only a
    /// DELETE starts a deletion; the real server calls the field immutable). On one being deleted, the stored one is kept.</exception>
    public static void CheckNoDeletionTimestampSet(ResourceKind kind, string name, JsonObject oldMeta, JsonObject newMeta)
    {
        if (oldMeta["deletionTimestamp"] is not null || (string?)newMeta["deletionTimestamp"] is not { } sent) return;
        var shown = DateTimeOffset.TryParse(sent, System.Globalization.CultureInfo.InvariantCulture, out var t)
            ? t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss '+0000 UTC'", System.Globalization.CultureInfo.InvariantCulture) : sent;
        throw ApiError.Invalid(kind, name, [new StatusCause("metadata.deletionTimestamp", $"Invalid value: {shown}: field is immutable")]);
    }

    private static List<string> Names(JsonObject? meta) =>
        (meta?["finalizers"] as JsonArray ?? []).Select(f => (string?)f).OfType<string>().ToList();
}
