using Cai.Inference;
using Cai.Core.Feedback;
using Cai.Core.Generation;

namespace Cai.Services.Labeling;

/// <summary>
/// Settings of the labeling service (configuration section <c>Labeling</c>): the defaults a <c>Label</c> request
/// falls back to, and what the stream worker labels with.
/// </summary>
public sealed record LabelingOptions
{
    /// <summary>Feedback model folder used when a request names none (and by the worker).</summary>
    public string Model { get; init; } = "";

    /// <summary>Constitution file used when a request names none.</summary>
    public string Constitution { get; init; } = "constitutions/default.yaml";

    /// <summary>Principles drawn per comparison and averaged (an ensemble).</summary>
    public int PrinciplesPerComparison { get; init; } = 2;

    /// <summary>Worker: ask every option order and average (cancels position bias).</summary>
    public bool AverageOverOrders { get; init; } = true;

    /// <summary>Few-shot feedback demonstrations in context.</summary>
    public int FewShotExamples { get; init; }

    /// <summary>Worker: chain-of-thought labelling (probabilities clamped).</summary>
    public bool ChainOfThought { get; init; }

    /// <summary>Clamp band of chain-of-thought probabilities.</summary>
    public double ClampLow { get; init; } = 0.4;

    /// <summary>Clamp band of chain-of-thought probabilities.</summary>
    public double ClampHigh { get; init; } = 0.6;

    /// <summary>Tokens of chain-of-thought reasoning (greedy).</summary>
    public int ReasoningMaxNewTokens { get; init; } = 64;

    /// <summary>Worker: the run seed (principle draws depend only on it and the comparison id).</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>Worker: comparisons labelled together (each is principles x orders scoring rows).</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Worker: how long the first comparison of a batch waits for batch-mates.</summary>
    public TimeSpan BatchWindow { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Worker: runs always served (a list or one comma-separated string).</summary>
    public IReadOnlyList<string> RunIds { get; init; } = [];

    /// <summary>Worker: also serve every run in the Redis set <c>cai:runs:active</c>.</summary>
    public bool WatchActiveRuns { get; init; } = true;

    /// <summary>Worker: how often the set of active runs is re-read.</summary>
    public TimeSpan RunRefreshInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The feedback options the worker runs with.</summary>
    public FeedbackOptions FeedbackOptions() => new()
    {
        PrinciplesPerComparison = PrinciplesPerComparison,
        AverageOverOrders = AverageOverOrders,
        FewShotExamples = FewShotExamples,
        ChainOfThought = ChainOfThought,
        ClampLow = ClampLow,
        ClampHigh = ClampHigh,
        ReasoningSettings = new GenerationSettings { MaxNewTokens = ReasoningMaxNewTokens, Temperature = 0 },
        Seed = Seed,
        BatchSize = BatchSize,
    };

    /// <summary>Reads section <c>Labeling</c>; a bad value is refused naming its key.</summary>
    public static LabelingOptions FromConfiguration(IConfiguration configuration)
    {
        var section = configuration.GetSection("Labeling");
        // The binder names the key of a value it cannot convert; run ids also accept one comma-separated value.
        var options = (section.Get<LabelingOptions>() ?? new LabelingOptions()) with
        {
            RunIds = RunStreamWorkerService.ParseRunIds(section.GetSection("RunIds")),
        };
        // Without a model of its own the stage uses the run's base model (Cai:BaseModel, set by the AppHost).
        if (options.Model.Length == 0) options = options with { Model = configuration["Cai:BaseModel"] ?? "" };
        var errors = options.FeedbackOptions().Validate().Select(e => "Labeling:" + e).ToList();
        if (options.RunRefreshInterval <= TimeSpan.Zero) errors.Add("Labeling:RunRefreshInterval must be > 0");
        return errors.Count == 0 ? options : throw new InvalidOperationException("Invalid configuration: " + string.Join("; ", errors));
    }
}
