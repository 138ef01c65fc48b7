namespace Cai.Services.Orchestrator.Runs;

/// <summary>
/// The orchestrator's configuration: where runs are kept, where relative paths of a run configuration start, the run
/// it starts by itself (the AppHost's main job), and how long it waits on the stage services.
/// </summary>
public sealed record OrchestratorOptions
{
    /// <summary>Run folders are created here (<c>Cai:ArtifactsRoot</c>; default ./runs).</summary>
    public string ArtifactsRoot { get; init; } = Path.GetFullPath("runs");

    /// <summary>Relative paths of run configurations (models/, constitutions/, ../shared/data) start here (<c>Cai:RepositoryRoot</c>; default: the folder holding CAI.sln above the current one).</summary>
    public string RepositoryRoot { get; init; } = Directory.GetCurrentDirectory();

    /// <summary>A run to start (or resume) when the service starts: a profile, a configuration file, or "none" (<c>Cai:Profile</c>; default none).</summary>
    public string AutoRunProfile { get; init; } = "none";

    /// <summary>The id of that run (<c>Cai:RunId</c>; default main-{profile}).</summary>
    public string? AutoRunId { get; init; }

    /// <summary>Longest wait for a training call (the stream of progress included).</summary>
    public TimeSpan TrainingDeadline { get; init; } = TimeSpan.FromHours(12);

    /// <summary>Longest wait for one sampling or scoring call.</summary>
    public TimeSpan CallDeadline { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>A stream stage that gets no new item for this long fails (no worker serves the run?).</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>How often state and streams are polled.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    public static OrchestratorOptions FromConfiguration(IConfiguration configuration, string contentRoot)
    {
        var cai = configuration.GetSection("Cai");
        var section = configuration.GetSection("Orchestrator");
        var defaults = new OrchestratorOptions();
        string repository = cai["RepositoryRoot"] is { Length: > 0 } r ? Path.GetFullPath(r) : FindRepository(contentRoot);
        string artifacts = cai["ArtifactsRoot"] is { Length: > 0 } a ? Path.GetFullPath(Path.Combine(repository, a)) : Path.Combine(repository, "runs");
        string profile = cai["Profile"] is { Length: > 0 } p ? p : defaults.AutoRunProfile;
        return new OrchestratorOptions
        {
            ArtifactsRoot = artifacts,
            RepositoryRoot = repository,
            AutoRunProfile = profile,
            AutoRunId = cai["RunId"] is { Length: > 0 } id ? id : null,
            TrainingDeadline = section.GetValue("TrainingDeadline", defaults.TrainingDeadline),
            CallDeadline = section.GetValue("CallDeadline", defaults.CallDeadline),
            StallTimeout = section.GetValue("StallTimeout", defaults.StallTimeout),
            PollInterval = section.GetValue("PollInterval", defaults.PollInterval),
        };
    }

    /// <summary>The id of the automatic run.</summary>
    public string AutoRunIdOrDefault => AutoRunId ?? "main-" + Path.GetFileNameWithoutExtension(AutoRunProfile);

    private static string FindRepository(string start)
    {
        foreach (var origin in new[] { start, Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(origin); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "CAI.sln"))) return dir.FullName;
        return Path.GetFullPath(start);
    }
}
