using System.Text;
using System.Text.Json;
using Cai.Core.Data;
using Cai.Core.Generation;
using Cai.Core.Metrics;
using Cai.Inference;
using Cai.Inference.TrainingData;
using Microsoft.Extensions.Logging;
using Cai.Training.Data;
using Cai.Training.Jobs;

namespace Cai.Pipeline;

// RL-CAI: response pairs from the SL-CAI policy, AI labels, the preference model, PPO.
public sealed partial class CaiRun
{
    private async Task<IReadOnlyDictionary<string, string>?> PairsAsync(IProgress<StageProgress> progress, CancellationToken cancellationToken)
    {
        var redTeam = ReadPrompts().Where(p => p.Kind != HelpfulKind).ToList();
        if (redTeam.Count == 0) throw new InvalidOperationException("the run has no red-team prompts to sample pairs for");
        int count = _run.Config.Labels.Pairs;
        // Pair ids are "{promptId}#{n}"; more pairs than prompts take each prompt again, with new samples.
        var wanted = Enumerable.Range(0, count).Select(i => (Id: $"{redTeam[i % redTeam.Count].Id}#{i / redTeam.Count}", Prompt: redTeam[i % redTeam.Count])).ToList();
        using var pairs = JsonlItems<PairItem>.Open(_run.InRun(RunLayout.Pairs), p => p.Id);
        var todo = wanted.Where(w => !pairs.Contains(w.Id)).ToList();
        var model = _executor.Model(ModelOf(CaiStages.Sft));
        int chunk = Math.Max(1, _run.Config.SlCai.BatchSize / 2);
        progress.Report(new StageProgress(pairs.Count, count, "sampling two responses per prompt from the SL-CAI policy"));
        for (int start = 0; start < todo.Count; start += chunk)
        {
            var batch = todo.Skip(start).Take(chunk).ToList();
            // Both samples of a pair in one call: prompt i at positions 2i and 2i+1.
            var texts = batch.SelectMany(b => Enumerable.Repeat(b.Prompt.ToPromptRecord().Prompt.RenderPrompt(), 2)).ToList();
            var answers = await model.CompleteAsync(texts, new GenerationSettings
            {
                MaxNewTokens = _run.Config.Labels.MaxNewTokens,
                Temperature = 1.0,
                StopSequences = AnswerStops,
                Seed = _run.Seed(CaiStages.Pairs) + (ulong)start,
            }, cancellationToken).ConfigureAwait(false);
            for (int i = 0; i < batch.Count; i++)
                pairs.Append(new PairItem(batch[i].Id, batch[i].Prompt.Prompt, [answers[2 * i], answers[2 * i + 1]]));
            progress.Report(new StageProgress(pairs.Count, count, "sampling two responses per prompt from the SL-CAI policy"));
        }
        return new Dictionary<string, string> { ["data"] = RunLayout.Pairs };
    }

    private async Task<IReadOnlyDictionary<string, string>?> LabelsAsync(IProgress<StageProgress> progress, CancellationToken cancellationToken)
    {
        var pairs = JsonlItems<PairItem>.Read(_run.InRun(RunLayout.Pairs), p => p.Id);
        using var labels = JsonlItems<ComparisonItem>.Open(_run.InRun(RunLayout.Comparisons), c => c.Id);
        var todo = pairs.Where(p => !labels.Contains(p.Id)).ToList();
        progress.Report(new StageProgress(labels.Count, pairs.Count, "AI feedback"));
        await _executor.LabelAsync(_run, todo, label =>
        {
            labels.Append(label);
            progress.Report(new StageProgress(labels.Count, pairs.Count, "AI feedback"));
            return Task.CompletedTask;
        }, cancellationToken).ConfigureAwait(false);
        int missing = pairs.Count(p => !labels.Contains(p.Id));
        if (missing > 0) throw new InvalidOperationException($"{missing} pairs have no label");
        return new Dictionary<string, string> { ["data"] = RunLayout.Comparisons };
    }

    private const string PmTrainFile = "preference-model/data/ai-train.jsonl";
    private const string PmHeldOutFile = "preference-model/data/ai-held-out.jsonl";
    private const string PmHelpfulFile = "preference-model/data/helpfulness.jsonl";

    private async Task<IReadOnlyDictionary<string, string>?> PreferenceModelAsync(IProgress<StageProgress> progress, CancellationToken cancellationToken)
    {
        var config = _run.Config.PreferenceModel;
        ulong seed = _run.Seed(CaiStages.PreferenceModel);
        var comparisons = JsonlItems<ComparisonItem>.Read(_run.InRun(RunLayout.Comparisons), c => c.Id);
        if (comparisons.Count == 0) throw new InvalidOperationException($"{RunLayout.Comparisons} holds no comparisons");
        var (train, heldOut) = TrainingMix.HoldOut(comparisons, config.HeldOutFraction, seed);
        WriteLines(PmTrainFile, train.Select(c => JsonSerializer.Serialize(c, JsonSerializerOptions.Web)));
        WriteLines(PmHeldOutFile, heldOut.Select(c => JsonSerializer.Serialize(c, JsonSerializerOptions.Web)));
        // The world's helpfulness comparisons, in hh-rlhf's {"chosen", "rejected"} format.
        var helpful = _run.World.HelpfulnessComparisons(config.HelpfulComparisons, unchecked((int)seed));
        WriteLines(PmHelpfulFile, helpful.Select(h => JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["chosen"] = h.Prompt.WithAssistant(h.Chosen).Render(),
            ["rejected"] = h.Prompt.WithAssistant(h.Rejected).Render(),
        })));

        var job = new PmJob(_run.RunId, _run.BaseModel, _run.InRun(RunLayout.PreferenceModel),
            [_run.InRun(PmTrainFile), _run.InRun(PmHelpfulFile)],
            HelpfulRatio: train.Count == 0 ? 1 : Math.Max(1e-9, (double)helpful.Count / train.Count),
            config.Epochs, config.LearningRate, config.BatchSize, config.Bf16, seed);
        string model = await _executor.TrainPreferenceModelAsync(job, progress, cancellationToken).ConfigureAwait(false);

        progress.Report(new StageProgress(0, 0, "evaluating the preference model"));
        var datasets = new List<PmDatasetEvaluation>();
        if (heldOut.Count > 0)
        {
            var decisive = heldOut.Where(c => c.Probabilities[0] != 0.5).ToList();
            var prompts = decisive.Select(c => StageStreams.ParsePrompt(c.Prompt, "prompt")).ToList();
            datasets.Add(await EvaluatePmAsync(model, "held-out AI comparisons",
                [.. decisive.Select((c, i) => prompts[i].WithAssistant(c.Responses[0]).Render())],
                [.. decisive.Select((c, i) => prompts[i].WithAssistant(c.Responses[1]).Render())],
                [.. decisive.Select(c => c.Probabilities[0] > 0.5)], cancellationToken).ConfigureAwait(false));
        }
        foreach (string file in config.EvaluationFiles)
        {
            string path = _run.Resolve(file);
            if (!File.Exists(path))
            {
                _logger.LogWarning("PreferenceModel:EvaluationFiles: {File} not found; skipped", path);
                continue;
            }
            var (chosen, rejected) = ReadTwoChoice(path, config.EvaluationLimit, cancellationToken);
            if (chosen.Count == 0) continue;
            datasets.Add(await EvaluatePmAsync(model, Path.GetFileName(path), chosen, rejected, [.. chosen.Select(_ => true)], cancellationToken)
                .ConfigureAwait(false));
        }
        RunLayout.WriteJson(_run.InRun(RunLayout.PmEvaluation), new PmEvaluationFile(datasets));
        return new Dictionary<string, string> { ["model"] = Relative(model), ["evaluation"] = RunLayout.PmEvaluation };
    }

    /// <summary>Chosen and rejected dialogues of an hh-rlhf file or a two-choice file, at most <paramref name="limit"/> of them.</summary>
    private static (List<string> Chosen, List<string> Rejected) ReadTwoChoice(string path, int limit, CancellationToken cancellationToken)
    {
        var chosen = new List<string>();
        var rejected = new List<string>();
        if (ComparisonFiles.IsHhRlhf(path))
        {
            foreach (var c in HhRlhfFile.Read(path, cancellationToken).Where(c => c.IsWellFormed).Take(limit))
            {
                chosen.Add(c.Prompt.WithAssistant(c.Chosen).Render());
                rejected.Add(c.Prompt.WithAssistant(c.Rejected).Render());
            }
        }
        else
        {
            foreach (var (good, bad, prompt) in ChoiceQuestionFile.Load(path, cancellationToken)
                         .SelectMany(q => q.Pairs().Select(p => (p.Correct, p.Incorrect, q.Prompt))).Take(limit))
            {
                chosen.Add(prompt.WithAssistant(good).Render());
                rejected.Add(prompt.WithAssistant(bad).Render());
            }
        }
        return (chosen, rejected);
    }

    /// <summary>Accuracy and calibration of the PM's P(a better than b) = sigmoid(r_a - r_b) against <paramref name="aBetter"/>.</summary>
    private async Task<PmDatasetEvaluation> EvaluatePmAsync(string model, string name, IReadOnlyList<string> a, IReadOnlyList<string> b,
        IReadOnlyList<bool> aBetter, CancellationToken cancellationToken)
    {
        var scoresA = await ScoreAllAsync(model, a, cancellationToken).ConfigureAwait(false);
        var scoresB = await ScoreAllAsync(model, b, cancellationToken).ConfigureAwait(false);
        var predicted = scoresA.Select((s, i) => 1 / (1 + Math.Exp(-(s - scoresB[i])))).ToList();
        int right = predicted.Where((p, i) => p > 0.5 == aBetter[i] && p != 0.5).Count();
        var calibration = Calibration.Compute(predicted, aBetter);
        return new PmDatasetEvaluation(name, predicted.Count, predicted.Count == 0 ? double.NaN : (double)right / predicted.Count,
            calibration.ExpectedCalibrationError, calibration);
    }

    /// <summary>The PM's scores of many dialogues, in requests of at most 64.</summary>
    private async Task<IReadOnlyList<double>> ScoreAllAsync(string model, IReadOnlyList<string> dialogues, CancellationToken cancellationToken)
    {
        var scores = new List<double>(dialogues.Count);
        for (int start = 0; start < dialogues.Count; start += 64)
            scores.AddRange((await _executor.ScoreAsync(model, [.. dialogues.Skip(start).Take(64)], cancellationToken).ConfigureAwait(false))
                .Select(s => (double)s));
        return scores;
    }

    private async Task<IReadOnlyDictionary<string, string>?> PpoAsync(IProgress<StageProgress> progress, CancellationToken cancellationToken)
    {
        var c = _run.Config.Ppo;
        var job = new PpoJob(_run.RunId, ModelOf(CaiStages.Sft), ModelOf(CaiStages.PreferenceModel), _run.InRun(RunLayout.Ppo),
            _run.InRun(RunLayout.Prompts), c.Iterations, c.PromptsPerIteration, c.MaxNewTokens, c.LearningRate, c.KlCoefficient, c.KlTarget,
            c.Epochs, _run.Seed(CaiStages.Ppo));
        string model = await _executor.TrainPpoAsync(job, progress, cancellationToken).ConfigureAwait(false);
        return new Dictionary<string, string> { ["model"] = Relative(model), ["log"] = RunLayout.Ppo + "/" + StageTraining.PpoLogFile };
    }

    private void WriteLines(string relative, IEnumerable<string> lines)
    {
        string path = _run.InRun(relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, string.Concat(lines.Select(l => l + "\n")), new UTF8Encoding(false));
    }
}
