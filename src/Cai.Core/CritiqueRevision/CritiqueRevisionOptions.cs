using Cai.Core.Generation;

namespace Cai.Core.CritiqueRevision;

/// <summary>Settings of the SL-CAI critique/revision loop.</summary>
public sealed record CritiqueRevisionOptions
{
    /// <summary>Critique/revision rounds per prompt, each under a freshly drawn principle (0 keeps the initial response).</summary>
    public int Rounds { get; init; } = 2;

    /// <summary>Few-shot demonstrations drawn from the constitution and shown before each critique/revision prompt (0 allowed).</summary>
    public int FewShotExamples { get; init; } = 1;

    /// <summary>Ablation: revise directly under the revision request, with no critique step.</summary>
    public bool DirectRevision { get; init; }

    /// <summary>Run seed; with the prompt id it fixes every principle and example draw.</summary>
    public ulong Seed { get; init; }

    /// <summary>Prompts processed together: each model call carries this many sequences (keep it >= 32).</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Sampling of the helpful-only model's initial response.</summary>
    public GenerationSettings ResponseSettings { get; init; } = new() { MaxNewTokens = 64 };

    /// <summary>Sampling of critiques.</summary>
    public GenerationSettings CritiqueSettings { get; init; } = new() { MaxNewTokens = 64 };

    /// <summary>Sampling of revisions.</summary>
    public GenerationSettings RevisionSettings { get; init; } = new() { MaxNewTokens = 64 };

    /// <summary>Problems with these options, each naming the option; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Rounds < 0)
        {
            errors.Add($"{nameof(Rounds)} must be >= 0");
        }

        if (FewShotExamples < 0)
        {
            errors.Add($"{nameof(FewShotExamples)} must be >= 0");
        }

        if (BatchSize <= 0)
        {
            errors.Add($"{nameof(BatchSize)} must be > 0");
        }

        errors.AddRange(ResponseSettings.Validate(nameof(ResponseSettings)));
        errors.AddRange(CritiqueSettings.Validate(nameof(CritiqueSettings)));
        errors.AddRange(RevisionSettings.Validate(nameof(RevisionSettings)));
        return errors;
    }
}
