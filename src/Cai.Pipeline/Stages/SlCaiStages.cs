using Cai.Core.Dialogues;
using Cai.Core.Generation;
using Cai.Core.Prompts;
using Cai.Inference;
using Cai.World;
using Microsoft.Extensions.Logging;

namespace Cai.Pipeline;

// SL-CAI: the run's prompts, critique/revision of the red-team prompts, fine-tuning on the revisions.
public sealed partial class CaiRun
{
    /// <summary>The kind of a red-team prompt (critiqued and revised).</summary>
    public const string RedTeamKind = "red-team";

    /// <summary>The kind of a helpfulness prompt (answered as it is; goes to the helpful mix).</summary>
    public const string HelpfulKind = "helpful";

    /// <summary>Where an answer of the assistant ends.</summary>
    internal static readonly IReadOnlyList<string> AnswerStops =
        [DialogueFormat.TurnSeparator + DialogueFormat.HumanMarker, DialogueFormat.TurnSeparator + PromptFormat.CritiqueRequestMarker, PromptFormat.ExampleSeparator];

    private async Task<IReadOnlyDictionary<string, string>?> PromptsAsync(IProgress<StageProgress> progress, CancellationToken cancellationToken)
    {
        var world = await Task.Run(() => _run.World, cancellationToken).ConfigureAwait(false);
        var config = _run.Config.SlCai;
        var random = new Random(unchecked((int)_run.Seed(CaiStages.Prompts)));
        var redTeam = world.RedTeamPrompts().OrderBy(_ => random.Next()).Take(config.RedTeamPrompts).ToList();
        var helpful = world.HelpfulPrompts(PromptSplit.Train).OrderBy(_ => random.Next()).Take(config.HelpfulPrompts).ToList();
        if (redTeam.Count < config.RedTeamPrompts || helpful.Count < config.HelpfulPrompts)
            _logger.LogWarning("The world has {RedTeam} red-team and {Helpful} helpful train prompts; the run asked for {WantRed} and {WantHelpful}",
                redTeam.Count, helpful.Count, config.RedTeamPrompts, config.HelpfulPrompts);

        using var file = JsonlItems<PromptItem>.Open(_run.InRun(RunLayout.Prompts), p => p.Id);
        foreach (var p in redTeam) file.Append(new PromptItem(p.Id, StageStreams.PromptText(p.Dialogue), RedTeamKind));
        foreach (var p in helpful) file.Append(new PromptItem(p.Id, StageStreams.PromptText(p.Dialogue), HelpfulKind));
        progress.Report(new StageProgress(file.Count, redTeam.Count + helpful.Count, $"{redTeam.Count} red-team + {helpful.Count} helpful prompts"));
        return new Dictionary<string, string> { ["data"] = RunLayout.Prompts };
    }

    private IReadOnlyList<PromptItem> ReadPrompts() =>
        JsonlItems<PromptItem>.Read(_run.InRun(RunLayout.Prompts), p => p.Id) is { Count: > 0 } prompts
            ? prompts : throw new InvalidOperationException($"{RunLayout.Prompts} holds no prompts: the prompts stage has not run");

    private async Task<IReadOnlyDictionary<string, string>?> SlCaiAsync(IProgress<StageProgress> progress, CancellationToken cancellationToken)
    {
        var prompts = ReadPrompts();
        using var revisions = JsonlItems<RevisionItem>.Open(_run.InRun(RunLayout.Revisions), r => r.PromptId);
        void Report(string what) => progress.Report(new StageProgress(revisions.Count, prompts.Count, what));
        Report("resuming");

        // Helpful prompts: the base policy's own answers, kept as they are (the paper's helpful samples).
        var helpful = prompts.Where(p => p.Kind == HelpfulKind && !revisions.Contains(p.Id)).ToList();
        var model = _executor.Model(_run.BaseModel);
        int chunk = Math.Max(1, _run.Config.SlCai.BatchSize);
        for (int start = 0; start < helpful.Count; start += chunk)
        {
            var batch = helpful.Skip(start).Take(chunk).ToList();
            var answers = await model.CompleteAsync([.. batch.Select(p => p.ToPromptRecord().Prompt.RenderPrompt())], new GenerationSettings
            {
                MaxNewTokens = _run.Config.SlCai.MaxNewTokens,
                Temperature = 1.0,
                StopSequences = AnswerStops,
                Seed = _run.Seed(CaiStages.SlCai) + (ulong)start,
            }, cancellationToken).ConfigureAwait(false);
            for (int i = 0; i < batch.Count; i++)
                revisions.Append(new RevisionItem(batch[i].Id, batch[i].Prompt, HelpfulKind, answers[i], [], answers[i]));
            Report("helpful answers");
        }

        // Red-team prompts: the critique/revision loop under principles drawn from the constitution.
        var redTeam = prompts.Where(p => p.Kind != HelpfulKind && !revisions.Contains(p.Id)).ToList();
        await _executor.CritiqueReviseAsync(_run, redTeam, record =>
        {
            revisions.Append(record);
            Report("critique and revision");
            return Task.CompletedTask;
        }, cancellationToken).ConfigureAwait(false);
        var missing = prompts.Count(p => !revisions.Contains(p.Id));
        if (missing > 0) throw new InvalidOperationException($"{missing} prompts have no revision record");
        return new Dictionary<string, string> { ["data"] = RunLayout.Revisions };
    }

    private async Task<IReadOnlyDictionary<string, string>?> SftAsync(IProgress<StageProgress> progress, CancellationToken cancellationToken)
    {
        var c = _run.Config.SlCai;
        var job = new SftJob(_run.RunId, _run.BaseModel, _run.InRun(RunLayout.Sft), [_run.InRun(RunLayout.Revisions)], c.HelpfulRatio,
            c.SftEpochs, c.SftLearningRate, c.SftBatchSize, c.SftBf16, _run.Seed(CaiStages.Sft));
        string model = await _executor.TrainSftAsync(job, progress, cancellationToken).ConfigureAwait(false);
        return new Dictionary<string, string> { ["model"] = Relative(model) };
    }

    /// <summary>The folder a finished stage wrote its model to (absolute).</summary>
    private string ModelOf(string stage) =>
        _state.Stage(stage).Artifacts?.GetValueOrDefault("model") is { } model
            ? _run.InRun(model) : throw new InvalidOperationException($"stage {stage} has no model: it has not finished");
}
