namespace TalkingFace.Gateway.Pipeline;

/// <summary>
/// The "waiting: ..." note a queued stage carries in its reason while no live worker can take it, kept in front of
/// any earlier reason (e.g. why the previous attempt failed) and removed once a worker starts the stage.
/// </summary>
public static class WaitingNote
{
    public const string Prefix = "waiting: ";
    private const string Separator = "; then: ";

    public static bool IsWaiting(string? reason) => reason?.StartsWith(Prefix, StringComparison.Ordinal) == true;

    /// <summary>The reason without a waiting note.</summary>
    public static string? Strip(string? reason)
    {
        if (!IsWaiting(reason)) return reason;
        var at = reason!.IndexOf(Separator, StringComparison.Ordinal);
        return at < 0 ? null : reason[(at + Separator.Length)..];
    }

    /// <summary>Puts <paramref name="waiting"/> (or nothing, when null) in front of the reason's other content.</summary>
    public static string? Apply(string? reason, string? waiting)
    {
        var rest = Strip(reason);
        if (waiting is null) return rest;
        return rest is null ? waiting : waiting + Separator + rest;
    }
}
