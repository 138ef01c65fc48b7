using Cai.Inference;
using Cai.Core.CritiqueRevision;
using Cai.Core.Generation;

namespace Cai.Services.Critique;

/// <summary>
/// Settings of the critique service (configuration section <c>Critique</c>): the defaults a <c>CritiqueRevise</c>
/// request falls back to, and what the stream worker runs with.
/// </summary>
public sealed record CritiqueOptions
{
    /// <summary>Policy model folder used when a request names none (and by the worker).</summary>
    public string Model { get; init; } = "";

    /// <summary>Constitution file used when a request names none.</summary>
    public string Constitution { get; init; } = "constitutions/default.yaml";

    /// <summary>Critique/revision rounds per prompt (the paper used 4; the default run 2).</summary>
    public int Rounds { get; init; } = 2;

    /// <summary>Few-shot demonstrations in context.</summary>
    public int FewShotExamples { get; init; } = 1;

    /// <summary>Largest <c>rounds</c> a request may ask for.</summary>
    public int MaxRounds { get; init; } = 16;

    /// <summary>Worker: the run seed (principle draws depend only on it and the prompt id).</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>Worker: the paper's "revise directly" variant.</summary>
    public bool DirectRevision { get; init; }

    /// <summary>Sampling of responses, critiques and revisions.</summary>
    public double Temperature { get; init; } = 1.0;

    /// <summary>Tokens per response, critique and revision.</summary>
    public int MaxNewTokens { get; init; } = 64;

    /// <summary>Worker: prompts handled together, i.e. generations in flight per model call (>= 32 on a CPU).</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Worker: how long the first prompt of a batch waits for batch-mates.</summary>
    public TimeSpan BatchWindow { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Worker: runs always served (also settable as a comma-separated string).</summary>
    public IReadOnlyList<string> RunIds { get; init; } = [];

    /// <summary>Worker: also serve every run in the Redis set <c>cai:runs:active</c>.</summary>
    public bool WatchActiveRuns { get; init; } = true;

    /// <summary>Worker: how often the set of active runs is re-read.</summary>
    public TimeSpan RunRefreshInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Sampling of every step as the core's settings.</summary>
    public GenerationSettings Sampling => new() { Temperature = Temperature, MaxNewTokens = MaxNewTokens };

    /// <summary>The loop options the worker runs with.</summary>
    public CritiqueRevisionOptions LoopOptions() => new()
    {
        Rounds = Rounds,
        FewShotExamples = FewShotExamples,
        DirectRevision = DirectRevision,
        Seed = Seed,
        BatchSize = BatchSize,
        ResponseSettings = Sampling,
        CritiqueSettings = Sampling,
        RevisionSettings = Sampling,
    };

    /// <summary>Reads section <c>Critique</c>; a bad value is refused naming its key.</summary>
    public static CritiqueOptions FromConfiguration(IConfiguration configuration)
    {
        var section = configuration.GetSection("Critique");
        // The binder names the key of a value it cannot convert; run ids also accept one comma-separated value.
        var options = (section.Get<CritiqueOptions>() ?? new CritiqueOptions()) with
        {
            RunIds = RunStreamWorkerService.ParseRunIds(section.GetSection("RunIds")),
        };
        // Without a model of its own the stage uses the run's base model (Cai:BaseModel, set by the AppHost).
        if (options.Model.Length == 0) options = options with { Model = configuration["Cai:BaseModel"] ?? "" };
        var errors = options.LoopOptions().Validate().Select(e => "Critique:" + e).ToList();
        if (options.MaxRounds < 1) errors.Add("Critique:MaxRounds must be >= 1");
        if (options.RunRefreshInterval <= TimeSpan.Zero) errors.Add("Critique:RunRefreshInterval must be > 0");
        return errors.Count == 0 ? options : throw new InvalidOperationException("Invalid configuration: " + string.Join("; ", errors));
    }
}
