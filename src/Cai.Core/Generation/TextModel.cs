namespace Cai.Core.Generation;

/// <summary>
/// Sampling settings for one batched generation call.
/// </summary>
public sealed record GenerationSettings
{
    /// <summary>The most tokens generated per prompt.</summary>
    public int MaxNewTokens { get; init; } = 128;

    /// <summary>Softmax temperature; 0 means greedy decoding.</summary>
    public double Temperature { get; init; } = 1.0;

    /// <summary>Nucleus sampling mass; 1 disables it.</summary>
    public double TopP { get; init; } = 1.0;

    /// <summary>Keep only the K most likely tokens; 0 disables it.</summary>
    public int TopK { get; init; }

    /// <summary>Generation of a row stops when its text ends with one of these; the stop text is not returned.</summary>
    public IReadOnlyList<string> StopSequences { get; init; } = [];

    /// <summary>
    /// Seed for sampling, or null for a nondeterministic one. Implementations should derive each row's random
    /// stream from the seed and the row's prompt, so a result does not depend on which batch the prompt was in.
    /// </summary>
    public ulong? Seed { get; init; }

    /// <summary>These settings with extra stop sequences added (duplicates removed).</summary>
    public GenerationSettings WithStops(IEnumerable<string> stops) =>
        this with { StopSequences = [.. StopSequences.Concat(stops).Distinct(StringComparer.Ordinal)] };

    /// <summary>Returns the names and problems of invalid settings, empty when valid.</summary>
    public IReadOnlyList<string> Validate(string prefix)
    {
        var errors = new List<string>();
        if (MaxNewTokens <= 0)
        {
            errors.Add($"{prefix}:MaxNewTokens must be > 0");
        }

        if (Temperature < 0 || double.IsNaN(Temperature))
        {
            errors.Add($"{prefix}:Temperature must be >= 0");
        }

        if (!(TopP > 0 && TopP <= 1))
        {
            errors.Add($"{prefix}:TopP must be in (0, 1]");
        }

        if (TopK < 0)
        {
            errors.Add($"{prefix}:TopK must be >= 0");
        }

        return errors;
    }
}

/// <summary>
/// A language model that continues text: the policy or feedback model as the CAI algorithms see it. Calls are
/// batched because decoding is only efficient with many sequences in flight (>= 32 on the default model).
/// </summary>
public interface ITextModel
{
    /// <summary>Samples one continuation per prompt, in prompt order.</summary>
    Task<IReadOnlyList<string>> CompleteAsync(
        IReadOnlyList<string> prompts, GenerationSettings settings, CancellationToken cancellationToken);
}

/// <summary>A prompt and the continuations whose log-probabilities are wanted, e.g. a feedback question and " (A)", " (B)".</summary>
public sealed record OptionScoringRequest(string Prompt, IReadOnlyList<string> Continuations);

/// <summary>
/// Scores continuations: the feedback model as RL-CAI's AI labeller sees it. For each request it returns, per
/// continuation, log p(continuation | prompt) summed over the continuation's tokens.
/// </summary>
public interface IOptionScorer
{
    /// <summary>Log-probabilities, one list per request, one value per continuation, in order.</summary>
    Task<IReadOnlyList<IReadOnlyList<double>>> ScoreAsync(
        IReadOnlyList<OptionScoringRequest> requests, CancellationToken cancellationToken);
}

/// <summary>Post-processing of generated text shared by the algorithms.</summary>
public static class Completions
{
    /// <summary>
    /// Cuts <paramref name="text"/> at the first occurrence of any stop sequence and trims it. Models are asked to
    /// stop there, but a model that overshoots must not leak the next section into a critique or revision.
    /// </summary>
    public static string TruncateAtStop(string text, IEnumerable<string> stopSequences)
    {
        ArgumentNullException.ThrowIfNull(text);
        int cut = text.Length;
        foreach (var stop in stopSequences)
        {
            if (stop.Length == 0)
            {
                continue;
            }

            int at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && at < cut)
            {
                cut = at;
            }
        }

        return text[..cut].Trim();
    }
}
