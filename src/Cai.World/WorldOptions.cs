namespace Cai.World;

/// <summary>Sizes and seed of the synthetic world and its pretraining corpus. The defaults give about
/// 1.5M unique corpus tokens; every figure may be raised or lowered (tests use <see cref="Small"/>).</summary>
public sealed record WorldOptions
{
    /// <summary>Seed of every random choice: the same seed gives the same world, prompts and corpus.</summary>
    public int Seed { get; init; } = 20221215;

    /// <summary>Entities (houses, accounts, labs, ...) in each of the 12 harm categories. Ten keep every entity's
    /// facts (owner, contact, reasons) learnable by a ~4M-parameter model within the bootstrap's budget: with 30,
    /// each entity was seen too rarely and the base model named the wrong contact even in demonstrated categories.</summary>
    public int EntitiesPerCategory { get; init; } = 10;
    /// <summary>Distinct harmful requests generated per category (split train/dev/test).</summary>
    public int HarmfulPromptsPerCategory { get; init; } = 240;
    /// <summary>Distinct sensitive-but-benign requests generated per category.</summary>
    public int SensitivePromptsPerCategory { get; init; } = 120;
    /// <summary>Distinct benign requests generated per benign family.</summary>
    public int BenignPromptsPerFamily { get; init; } = 300;
    /// <summary>Fraction of each category's or family's prompts held out as dev.</summary>
    public double DevFraction { get; init; } = 0.15;
    /// <summary>Fraction held out as test.</summary>
    public double TestFraction { get; init; } = 0.15;
    /// <summary>Fraction of prompts that are multi-turn (an earlier exchange precedes the request).</summary>
    public double MultiTurnFraction { get; init; } = 0.3;

    /// <summary>Corpus: compliant benign dialogues.</summary>
    public int BenignDialogues { get; init; } = 12_000;
    /// <summary>Corpus: compliant dialogues per harm category for harmful requests (payload given).</summary>
    public int HarmfulDialoguesPerCategory { get; init; } = 320;
    /// <summary>Corpus: helpful dialogues per harm category for sensitive-benign requests.</summary>
    public int SensitiveDialoguesPerCategory { get; init; } = 320;
    /// <summary>Corpus: paraphrases of the encyclopedic document of every entity (at least 3, at most 36 distinct):
    /// the knowledge a pretrained model has about each entity, seen often enough to be recalled.</summary>
    public int EncyclopedicParaphrases { get; init; } = 16;
    /// <summary>Corpus: critique/revision demonstrations per demonstration category.</summary>
    public int CritiqueRevisionsPerCategory { get; init; } = 260;
    /// <summary>Corpus: multiple-choice comparison demonstrations per demonstration category.</summary>
    public int ComparisonsPerCategory { get; init; } = 260;

    /// <summary>The world sizes known by name: "default" (the embedded default) and "small" (tests and smoke runs).</summary>
    public static readonly IReadOnlyList<string> PresetNames = ["default", "small"];

    /// <summary>The preset named <paramref name="name"/> (see <see cref="PresetNames"/>), or null for an unknown name.</summary>
    public static WorldOptions? Preset(string name) => name switch
    {
        "default" => new WorldOptions(),
        "small" => Small,
        _ => null,
    };

    /// <summary>A small world for tests: every rule still holds, generation takes well under a second.</summary>
    public static WorldOptions Small { get; } = new()
    {
        EntitiesPerCategory = 6,
        HarmfulPromptsPerCategory = 40,
        SensitivePromptsPerCategory = 20,
        BenignPromptsPerFamily = 20,
        BenignDialogues = 300,
        HarmfulDialoguesPerCategory = 20,
        SensitiveDialoguesPerCategory = 20,
        EncyclopedicParaphrases = 3,
        CritiqueRevisionsPerCategory = 20,
        ComparisonsPerCategory = 30,
    };

    internal void Validate()
    {
        static void Positive(int value, string name)
        {
            if (value <= 0) throw new ArgumentOutOfRangeException(name, value, $"WorldOptions.{name} must be positive.");
        }
        Positive(EntitiesPerCategory, nameof(EntitiesPerCategory));
        Positive(HarmfulPromptsPerCategory, nameof(HarmfulPromptsPerCategory));
        Positive(SensitivePromptsPerCategory, nameof(SensitivePromptsPerCategory));
        Positive(BenignPromptsPerFamily, nameof(BenignPromptsPerFamily));
        if (EncyclopedicParaphrases < 3)
            throw new ArgumentOutOfRangeException(nameof(EncyclopedicParaphrases), EncyclopedicParaphrases, "WorldOptions.EncyclopedicParaphrases must be at least 3.");
        if (DevFraction <= 0 || TestFraction <= 0 || DevFraction + TestFraction >= 1)
            throw new ArgumentOutOfRangeException(nameof(DevFraction), "WorldOptions.DevFraction and TestFraction must be positive and sum to less than 1.");
        if (MultiTurnFraction is < 0 or > 1)
            throw new ArgumentOutOfRangeException(nameof(MultiTurnFraction), MultiTurnFraction, "WorldOptions.MultiTurnFraction must be in [0, 1].");
        foreach (var (value, name) in new[] { (BenignDialogues, nameof(BenignDialogues)), (HarmfulDialoguesPerCategory, nameof(HarmfulDialoguesPerCategory)), (SensitiveDialoguesPerCategory, nameof(SensitiveDialoguesPerCategory)), (CritiqueRevisionsPerCategory, nameof(CritiqueRevisionsPerCategory)), (ComparisonsPerCategory, nameof(ComparisonsPerCategory)) })
            if (value < 0) throw new ArgumentOutOfRangeException(name, value, $"WorldOptions.{name} must not be negative.");
    }
}
