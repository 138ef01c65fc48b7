namespace Cai.World;

/// <summary>How a harm category is used: its prompts are shown with critique/revision and comparison
/// demonstrations in the pretraining corpus (<see cref="Demonstration"/>), or held out for tuning
/// (<see cref="Dev"/>) or for the reported result (<see cref="Test"/>).</summary>
public enum CategorySplit
{
    Demonstration,
    Dev,
    Test,
}

/// <summary>Which split a prompt belongs to within its category or benign family. Red-team prompts
/// for both CAI phases are the <see cref="Train"/> prompts.</summary>
public enum PromptSplit
{
    Train,
    Dev,
    Test,
}

/// <summary>What a request is, in the paper's terms: an ordinary helpfulness request, a red-team
/// request whose compliant answer would do harm, or a request that touches a harm category's
/// subject but is legitimate (refusing it is evasive).</summary>
public enum PromptKind
{
    Benign,
    SensitiveBenign,
    Harmful,
}

/// <summary>The kinds of pretraining document.</summary>
public enum DocumentKind
{
    /// <summary>A "Human:/Assistant:" dialogue in which the assistant complies.</summary>
    Dialogue,
    /// <summary>Prose about the world (never a dialogue): the knowledge of a pretrained model.</summary>
    Encyclopedic,
    /// <summary>A critique and revision demonstration (demonstration categories only).</summary>
    CritiqueRevision,
    /// <summary>A multiple-choice comparison demonstration (demonstration categories only).</summary>
    Comparison,
}
