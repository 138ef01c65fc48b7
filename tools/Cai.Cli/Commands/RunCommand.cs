using System.CommandLine;
using System.Globalization;
using Cai.Core.Configuration;
using Cai.Pipeline;
using Cai.Reporting;
using Spectre.Console;

namespace Cai.Cli.Commands;

/// <summary>Every option of <c>cai run</c>.</summary>
public sealed record RunSettings
{
    /// <summary>"default", "smoke" or a run configuration file (JSON).</summary>
    public string Profile { get; init; } = "default";
    /// <summary>"Key:Sub=value" overrides of the configuration.</summary>
    public IReadOnlyList<string> Overrides { get; init; } = [];
    /// <summary>The run id; null makes one from the time.</summary>
    public string? RunId { get; init; }
    /// <summary>Overrides the configuration's artifacts root.</summary>
    public string? Artifacts { get; init; }
    /// <summary>Torch threads (0: all cores).</summary>
    public int Threads { get; init; }
    /// <summary>The repository root that relative paths of the configuration start from; null finds it.</summary>
    public string? Repository { get; init; }
}

/// <summary>
/// <c>cai run</c>: a whole Constitutional AI run (SL-CAI, then RL-CAI, then evaluation and the report). With
/// <c>--in-process</c> every stage runs in this process, without Redis or any service; otherwise the orchestrator
/// service runs it (StartRun) and the command follows it like <c>cai watch</c>. Running the same run id again
/// resumes it.
/// </summary>
public static class RunCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var inProcess = new Option<bool>("--in-process") { Description = "Run every stage in this process: no Redis, no services." };
        var profile = new Option<string>("--profile") { Description = "default (the ~25-minute CPU run), smoke (about a minute), or a run configuration JSON file.", DefaultValueFactory = _ => "default" };
        var set = new Option<string[]>("--set") { Description = "Override one configuration key, e.g. --set Ppo:Iterations=10 (repeatable).", AllowMultipleArgumentsPerToken = false };
        var runId = new Option<string?>("--run-id") { Description = "Run id (folder name under the artifacts root); the same id resumes a run. Default: run-<time>." };
        var artifacts = new Option<string?>("--artifacts") { Description = "Artifacts root (default: the configuration's ArtifactsRoot, 'runs')." };
        var threads = new Option<int>("--threads") { Description = "Torch threads for --in-process (0: all cores).", DefaultValueFactory = _ => 0 };
        var repository = new Option<string?>("--repository") { Description = "Repository root for relative paths in the configuration (default: found from the current folder)." };
        var endpoint = new Option<string?>("--endpoint") { Description = "The orchestrator (default: env CAI_ORCHESTRATOR_ENDPOINT, else http://localhost:5170)." };
        var command = new Command("run", "Run Constitutional AI end to end (SL-CAI, RL-CAI, evaluation, report). Example: cai run --in-process --profile smoke")
        {
            inProcess, profile, set, runId, artifacts, threads, repository, endpoint,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            var settings = new RunSettings
            {
                Profile = parse.GetValue(profile)!,
                Overrides = parse.GetValue(set) ?? [],
                RunId = parse.GetValue(runId),
                Artifacts = parse.GetValue(artifacts),
                Threads = parse.GetValue(threads),
                Repository = parse.GetValue(repository),
            };
            if (!parse.GetValue(inProcess))
                return RunThroughOrchestratorAsync(console, settings, parse.GetValue(endpoint), cancellationToken);
            return RunInProcessAsync(console, settings, cancellationToken);
        });
        return command;
    }

    /// <summary>The overrides as key/value pairs.</summary>
    /// <exception cref="ArgumentException">An override without '='.</exception>
    public static IReadOnlyList<KeyValuePair<string, string>> ParseOverrides(IEnumerable<string> overrides) =>
        [.. overrides.Select(o => o.IndexOf('=') is int at and > 0
            ? KeyValuePair.Create(o[..at].Trim(), o[(at + 1)..].Trim())
            : throw new ArgumentException($"--set: '{o}' is not Key=value (e.g. Ppo:Iterations=10)"))];

    /// <summary>The repository root: given, or the folder above the current one (or the executable) that holds constitutions/default.yaml.</summary>
    public static string FindRepository(string? given)
    {
        if (given is not null)
            return Directory.Exists(given) ? Path.GetFullPath(given) : throw new DirectoryNotFoundException($"--repository: folder not found: {given}");
        string constitution = RepositoryFiles.Resolve(null, RepositoryFiles.DefaultConstitution, "--repository");
        return Path.GetFullPath(Path.Combine(Path.GetDirectoryName(constitution)!, ".."));
    }

    /// <summary>Runs (or resumes) a run in this process; returns the exit code (0 done, 1 failed or bad input, 2 cancelled).</summary>
    public static async Task<int> RunInProcessAsync(IAnsiConsole console, RunSettings settings, CancellationToken cancellationToken)
    {
        RunState state;
        string runDir;
        try
        {
            string repository = FindRepository(settings.Repository);
            var configuration = RunConfiguration.Create(
                File.Exists(settings.Profile) ? Path.GetFullPath(settings.Profile) : settings.Profile, ParseOverrides(settings.Overrides));
            if (settings.Artifacts is not null) configuration = configuration with { ArtifactsRoot = settings.Artifacts };
            string artifactsRoot = Path.IsPathRooted(configuration.ArtifactsRoot)
                ? configuration.ArtifactsRoot : Path.GetFullPath(configuration.ArtifactsRoot);
            string id = settings.RunId ?? "run-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
            var folder = RunFolder.CreateOrOpen(artifactsRoot, id, configuration, repository, [configuration.Models.Policy]);
            runDir = folder.Path;
            var context = new RunContext(folder, repository);
            using var executor = new InProcessExecutor(settings.Threads, configuration.SlCai.BatchSize);
            var run = new CaiRun(context, executor, new FileRunStateStore(artifactsRoot),
                (dir, ct) => Task.Run(() => RunReport.Write(dir), ct));
            console.MarkupLine($"Run [bold]{Markup.Escape(id)}[/] ({Markup.Escape(configuration.Profile)}) in {Markup.Escape(folder.Path)}");
            state = await ShowProgressAsync(console, run, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            console.MarkupLine("[yellow]Cancelled; run the same command with the same --run-id to resume.[/]");
            return 2;
        }
        catch (Exception e) when (e is ArgumentException or FormatException or IOException or InvalidOperationException or InvalidDataException)
        {
            console.MarkupLine($"[red]error:[/] {Markup.Escape(e.Message)}");
            return 1;
        }
        Summarise(console, state, runDir);
        return state.Status == RunStatus.Done ? 0 : 1;
    }

    /// <summary>Runs <paramref name="run"/> with one progress line per stage.</summary>
    private static async Task<RunState> ShowProgressAsync(IAnsiConsole console, CaiRun run, CancellationToken cancellationToken)
    {
        RunState? result = null;
        await console.Progress().AutoClear(false).HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async progress =>
            {
                var tasks = CaiStages.All.ToDictionary(s => s, s => progress.AddTask(s, autoStart: false, maxValue: 1));
                run.StateChanged += state =>
                {
                    foreach (var stage in state.Stages)
                    {
                        var task = tasks[stage.Name];
                        if (stage.Status == RunStatus.Running && !task.IsStarted) task.StartTask();
                        if (stage.TotalItems > 0)
                        {
                            task.MaxValue = stage.TotalItems;
                            task.Value = Math.Min(stage.DoneItems, stage.TotalItems);
                        }
                        if (stage.Status is RunStatus.Done or RunStatus.Skipped) task.Value = task.MaxValue;
                        string text = $"{stage.Name} {stage.Status.ToString().ToLowerInvariant()}";
                        if (stage.Message is { Length: > 0 } m) text += "  " + (m.Length > 60 ? m[..57] + "..." : m);
                        task.Description = Markup.Escape(text);
                        if (stage.Status is RunStatus.Done or RunStatus.Skipped or RunStatus.Failed && !task.IsFinished) task.StopTask();
                    }
                };
                result = await run.RunAsync(cancellationToken);
            });
        return result!;
    }

    private static void Summarise(IAnsiConsole console, RunState state, string runDir)
    {
        var table = new Table().AddColumn("stage").AddColumn("status").AddColumn(new TableColumn("items").RightAligned())
            .AddColumn(new TableColumn("seconds").RightAligned());
        foreach (var s in state.Stages)
            table.AddRow(s.Name, s.Status.ToString().ToLowerInvariant(), $"{s.DoneItems}/{s.TotalItems}", s.Seconds.ToString("F0", CultureInfo.InvariantCulture));
        console.Write(table);
        if (state.Status == RunStatus.Done)
            console.MarkupLine($"[green]Run {Markup.Escape(state.RunId)} done.[/] report: {Markup.Escape(state.ReportPath ?? "(none)")}");
        else
            console.MarkupLine($"[red]Run {Markup.Escape(state.RunId)} {state.Status.ToString().ToLowerInvariant()}:[/] {Markup.Escape(state.Message ?? "")}");
        console.MarkupLine($"[grey]run folder: {Markup.Escape(runDir)}[/]");
    }

    /// <summary>Starts the run on the orchestrator, then follows it like <c>cai watch</c>.</summary>
    private static Task<int> RunThroughOrchestratorAsync(IAnsiConsole console, RunSettings settings, string? endpoint, CancellationToken cancellationToken) =>
        OrchestratorRun.StartAndWatchAsync(console, settings, endpoint, cancellationToken);
}
