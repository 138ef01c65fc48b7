using System.CommandLine;
using System.Globalization;
using Cai.Cli.Commands.Stage;
using Cai.Protos.V1;
using Grpc.Core;
using Spectre.Console;
using OrchestratorClient = Cai.Protos.V1.Orchestrator.OrchestratorClient;

namespace Cai.Cli.Commands;

/// <summary>
/// <c>cai watch RUN_ID</c>: follows a run through the orchestrator's WatchRun stream, one progress bar per stage,
/// until the run is done (exit 0) or failed (exit 1); with <c>--json</c>, one JSON line per state.
/// </summary>
public static class WatchCommand
{
    /// <summary>A whole run at the default sizes takes about 25 minutes on a 2-core CPU; bigger runs take hours.</summary>
    public static readonly TimeSpan DefaultDeadline = TimeSpan.FromHours(24);

    public static Command Create(IAnsiConsole console)
    {
        var common = new StageOptions(StageService.Orchestrator, DefaultDeadline);
        var runId = new Argument<string>("run-id") { Description = "The run to follow (as StartRun or `cai run` printed it)." };
        return common.Command("watch", StageArgs.Describe(
                "Follow a run live: one progress bar per stage (prompts, sl-cai, sft, pairs, labels, preference-model, ppo, evaluation, report) until the run is done or failed. Exit 0 when done, 1 when failed.",
                "cai watch 20261128-1 --endpoint http://localhost:5170"),
            console, [runId],
            (parse, context, ct) => WatchAsync(context, parse.GetValue(runId)!, ct));
    }

    public static async Task<int> WatchAsync(StageContext context, string runId, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(runId)) throw new ArgumentException("run-id: must not be empty");
        using var call = new OrchestratorClient(context.Channel).WatchRun(new WatchRunRequest { RunId = runId }, context.Call(ct));
        RunState? last = null;
        if (context.Json)
        {
            await foreach (var state in call.ResponseStream.ReadAllAsync(ct))
            {
                StageOutput.WriteJson(context.Console, state);
                last = state;
                if (IsFinal(state)) break;
            }
        }
        else
        {
            await context.Console.Progress().AutoClear(false).HideCompleted(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .StartAsync(async progress =>
                {
                    var tasks = new Dictionary<string, ProgressTask>();
                    await foreach (var state in call.ResponseStream.ReadAllAsync(ct))
                    {
                        last = state;
                        foreach (var stage in state.Stages)
                        {
                            if (!tasks.TryGetValue(stage.Name, out var task))
                                tasks[stage.Name] = task = progress.AddTask(Markup.Escape(stage.Name), autoStart: false, maxValue: 1);
                            Update(task, stage);
                        }
                        if (IsFinal(state)) break;
                    }
                });
            if (last is not null) Summarise(context.Console, last);
        }

        if (last is null || !IsFinal(last))
            throw new InvalidDataException($"The orchestrator closed the stream of run {runId} before it finished (last status: {last?.Status ?? "none"}).");
        return last.Status == "done" ? ExitCodes.Ok : ExitCodes.Error;
    }

    private static bool IsFinal(RunState state) => state.Status is "done" or "failed";

    /// <summary>Moves a stage's bar: items done of total (indeterminate while the total is unknown), and its status line.</summary>
    private static void Update(ProgressTask task, StageState stage)
    {
        if (stage.Status == "running" && !task.IsStarted) task.StartTask();
        if (stage.ItemsTotal > 0)
        {
            task.IsIndeterminate = false;
            task.MaxValue = stage.ItemsTotal;
            task.Value = Math.Min(stage.ItemsDone, stage.ItemsTotal);
        }
        else task.IsIndeterminate = stage.Status == "running";
        if (stage.Status is "done" or "skipped")
        {
            task.IsIndeterminate = false;
            task.Value = task.MaxValue;
        }
        string text = $"{stage.Name}  {stage.Status}";
        if (stage.ItemsTotal > 0) text += $"  {stage.ItemsDone}/{stage.ItemsTotal}";
        if (stage.Message is { Length: > 0 } message) text += "  " + (message.Length > 60 ? message[..57] + "..." : message);
        task.Description = Markup.Escape(text);
        if (stage.Status is "done" or "failed" or "skipped") task.StopTask();
    }

    /// <summary>The final state as a table: every stage's status, items, time and message; then the run's outcome.</summary>
    private static void Summarise(IAnsiConsole console, RunState state)
    {
        var table = new Table().Title(Markup.Escape($"run {state.RunId}"))
            .AddColumn("stage").AddColumn("status").AddColumn(new TableColumn("items").RightAligned())
            .AddColumn(new TableColumn("seconds").RightAligned()).AddColumn("message");
        foreach (var stage in state.Stages)
        {
            string color = stage.Status switch { "done" => "green", "failed" => "red", "running" => "yellow", _ => "grey" };
            table.AddRow(Markup.Escape(stage.Name), $"[{color}]{Markup.Escape(stage.Status)}[/]",
                stage.ItemsTotal > 0 ? $"{stage.ItemsDone}/{stage.ItemsTotal}" : stage.ItemsDone.ToString(CultureInfo.InvariantCulture),
                stage.Seconds.ToString("F1", CultureInfo.InvariantCulture), Markup.Escape(stage.Message));
        }
        console.Write(table);
        if (state.Status == "done")
        {
            console.MarkupLine($"[green]Run {Markup.Escape(state.RunId)} done.[/]");
            if (state.ReportPath.Length > 0) console.MarkupLine($"report: {Markup.Escape(state.ReportPath)}");
        }
        else if (state.Status == "failed")
        {
            console.MarkupLine($"[red]Run {Markup.Escape(state.RunId)} failed: {Markup.Escape(state.Message)}[/]");
        }
        if (state.RunDir.Length > 0) console.MarkupLine($"[grey]run folder: {Markup.Escape(state.RunDir)}[/]");
    }
}
