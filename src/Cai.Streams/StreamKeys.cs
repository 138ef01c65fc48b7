namespace Cai.Streams;

/// <summary>
/// Names of the Redis keys of one CAI run: every stream that carries data between stages
/// (prompts, revisions, sample pairs, comparisons) lives under the run's prefix.
/// </summary>
/// <remarks>
/// The run id is wrapped in braces (<c>cai:{run-42}:revisions</c>): Redis Cluster hashes only the
/// part inside braces, so every key of a run lands in one slot and the multi-key scripts used for
/// idempotent publishing and dead-lettering stay valid on a cluster.
/// </remarks>
public static class StreamKeys
{
    /// <summary>The key of the stream <paramref name="name"/> of run <paramref name="runId"/>: <c>cai:{runId}:name</c>.</summary>
    public static string ForRun(string runId, string name)
    {
        RequireSegment(runId, nameof(runId));
        RequireSegment(name, nameof(name));
        return $"cai:{{{runId}}}:{name}";
    }

    /// <summary>The dead-letter stream beside <paramref name="streamKey"/>: <c>{streamKey}:dead</c>.</summary>
    public static string DeadLetter(string streamKey) => Require(streamKey) + ":dead";

    /// <summary>
    /// The hash beside <paramref name="streamKey"/> mapping each published item id to its entry id:
    /// <c>{streamKey}:ids</c>. It is what makes publishing idempotent.
    /// </summary>
    public static string ItemIds(string streamKey) => Require(streamKey) + ":ids";

    private static string Require(string streamKey)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(streamKey);
        return streamKey;
    }

    private static void RequireSegment(string value, string parameter)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value, parameter);
        // Braces would break the cluster hash tag; whitespace makes keys unreadable in tooling.
        if (value.AsSpan().IndexOfAny("{} \t\r\n") >= 0)
        {
            throw new ArgumentException($"'{parameter}' must not contain braces or whitespace (got \"{value}\").", parameter);
        }
    }
}
