namespace Cai.Modeling.Generation;

/// <summary>How to sample continuations (the policy's answers, critiques, revisions, PPO rollouts).</summary>
public sealed record SamplingOptions
{
    /// <summary>Most tokens generated per sequence.</summary>
    public int MaxNewTokens { get; init; } = 64;

    /// <summary>Softmax temperature; 0 means greedy (always the most likely token).</summary>
    public float Temperature { get; init; } = 1f;

    /// <summary>Sample only among the k most likely tokens; 0 = no limit.</summary>
    public int TopK { get; init; }

    /// <summary>Nucleus sampling: the smallest set of tokens whose probability reaches p; 1 = no limit.</summary>
    public float TopP { get; init; } = 1f;

    /// <summary>Independent samples per prompt (e.g. 2 for a comparison pair); the prompt is prefilled once.</summary>
    public int SamplesPerPrompt { get; init; } = 1;

    /// <summary>Seed of the sampling generator: the same seed, inputs, model and thread count give
    /// bit-identical samples. Null draws a fresh seed.</summary>
    public long? Seed { get; init; }

    /// <summary>Stop after an EOS token (the tokenizer's and the model config's eos_token_id).</summary>
    public bool StopAtEos { get; init; } = true;

    /// <summary>More token ids that end a sequence (kept as its last token).</summary>
    public IReadOnlyList<int> StopTokenIds { get; init; } = [];

    /// <summary>Strings that end a sequence; the returned text stops before them.</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];

    public SamplingOptions Validate()
    {
        if (MaxNewTokens < 1) throw new ArgumentOutOfRangeException(nameof(MaxNewTokens), MaxNewTokens, "MaxNewTokens must be at least 1.");
        if (Temperature < 0 || !float.IsFinite(Temperature)) throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "Temperature must be finite and >= 0.");
        if (TopK < 0) throw new ArgumentOutOfRangeException(nameof(TopK), TopK, "TopK must be >= 0.");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentOutOfRangeException(nameof(TopP), TopP, "TopP must be in (0, 1].");
        if (SamplesPerPrompt < 1) throw new ArgumentOutOfRangeException(nameof(SamplesPerPrompt), SamplesPerPrompt, "SamplesPerPrompt must be at least 1.");
        if (StopStrings.Any(string.IsNullOrEmpty)) throw new ArgumentException("StopStrings must not contain empty strings.", nameof(StopStrings));
        return this;
    }
}

/// <summary>Why a sequence stopped.</summary>
public enum FinishReason { Length, StopToken, StopString }

/// <summary>One finished sample.</summary>
/// <param name="Tokens">Generated ids, including a final stop token or the token that completed a stop string.</param>
/// <param name="Text">Decoded text, cut before a stop string; empty when no tokenizer is used.</param>
public sealed record GeneratedSequence(int PromptIndex, int SampleIndex, int[] Tokens, string Text, FinishReason FinishReason);

/// <summary>A token as it is produced, for streaming.</summary>
/// <param name="TextDelta">New text that is certain (not a partial character or a possible stop-string prefix).</param>
public sealed record GeneratedToken(int PromptIndex, int SampleIndex, int Token, string TextDelta, bool IsLast);
