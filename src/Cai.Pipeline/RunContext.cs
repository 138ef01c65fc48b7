using Cai.Core.Configuration;
using Cai.Core.Constitutions;
using Cai.Core.CritiqueRevision;
using Cai.Core.Feedback;
using Cai.Core.Generation;
using Cai.World;

namespace Cai.Pipeline;

/// <summary>
/// One run as its stages see it: the configuration, the run folder, the repository root that relative paths in
/// the configuration start from, and what follows from them (the constitution, the synthetic world of the base
/// model, the critique/revision and feedback settings, per-stage seeds).
/// </summary>
public sealed class RunContext
{
    private readonly Lazy<Constitution> _constitution;
    private readonly Lazy<SyntheticWorld> _world;

    public RunContext(RunFolder folder, string repositoryRoot)
    {
        ArgumentNullException.ThrowIfNull(folder);
        Folder = folder;
        RepositoryRoot = Path.GetFullPath(repositoryRoot);
        _constitution = new(() => ConstitutionLoader.Load(Resolve(Config.ConstitutionPath)));
        _world = new(() => WorldOfModel.Generate(Resolve(Config.Models.Policy)));
    }

    public RunFolder Folder { get; }
    public RunConfiguration Config => Folder.Configuration;
    public string RunId => Folder.Provenance.RunId;

    /// <summary>The run folder (absolute).</summary>
    public string RunDir => Path.GetFullPath(Folder.Path);

    /// <summary>Where relative paths of the configuration (models/, constitutions/, ../shared/data) start.</summary>
    public string RepositoryRoot { get; }

    /// <summary>A configuration path made absolute against the repository root.</summary>
    public string Resolve(string path) => Path.GetFullPath(Path.IsPathRooted(path) ? path : Path.Combine(RepositoryRoot, path));

    /// <summary>A path inside the run folder (e.g. <see cref="RunLayout.Prompts"/>), absolute.</summary>
    public string InRun(string relative) => Path.GetFullPath(Path.Combine(RunDir, relative));

    /// <summary>The run's constitution.</summary>
    public Constitution Constitution => _constitution.Value;

    /// <summary>The synthetic world the base model was bootstrapped on (from its bootstrap.json).</summary>
    public SyntheticWorld World => _world.Value;

    /// <summary>The base (helpful-only) policy's folder.</summary>
    public string BaseModel => Resolve(Config.Models.Policy);

    /// <summary>The feedback model's folder (the base model unless configured).</summary>
    public string FeedbackModel => Resolve(Config.Models.Feedback ?? Config.Models.Policy);

    /// <summary>A stage's seed (<see cref="RunConfiguration.DeriveSeed"/>).</summary>
    public ulong Seed(string stage) => Config.DeriveSeed(stage);

    /// <summary>SL-CAI's critique/revision settings.</summary>
    public CritiqueRevisionOptions CritiqueOptions()
    {
        var sampling = new GenerationSettings { MaxNewTokens = Config.SlCai.MaxNewTokens, Temperature = 1.0 };
        return new CritiqueRevisionOptions
        {
            Rounds = Config.SlCai.Rounds,
            FewShotExamples = Config.SlCai.FewShotExamples,
            DirectRevision = Config.SlCai.DirectRevision,
            Seed = Seed(CaiStages.SlCai),
            BatchSize = Config.SlCai.BatchSize,
            ResponseSettings = sampling,
            CritiqueSettings = sampling,
            RevisionSettings = sampling,
        };
    }

    /// <summary>RL-CAI's AI-feedback settings; <paramref name="principles"/> and <paramref name="chainOfThought"/> override the run's (for the feedback evaluation).</summary>
    public FeedbackOptions FeedbackOptions(int? principles = null, bool? chainOfThought = null) => new()
    {
        PrinciplesPerComparison = principles ?? Config.Labels.PrinciplesPerComparison,
        AverageOverOrders = Config.Labels.AverageOverOrders,
        FewShotExamples = Config.Labels.FewShotExamples,
        ChainOfThought = chainOfThought ?? Config.Labels.ChainOfThought,
        ClampLow = Config.Labels.ClampLow,
        ClampHigh = Config.Labels.ClampHigh,
        ReasoningSettings = new GenerationSettings { MaxNewTokens = Config.Labels.MaxNewTokens, Temperature = 0 },
        Seed = Seed(CaiStages.Labels),
        BatchSize = Config.Labels.BatchSize,
    };
}
