using System.Diagnostics;
using Cai.Core.Feedback;
using Cai.Core.Generation;
using Cai.Core.Metrics;
using Cai.Evaluation;
using Cai.Inference;
using Cai.World;

namespace Cai.Pipeline;

// Evaluation of every stage's policy with the world's oracle, AI feedback against the oracle, and the report.
public sealed partial class CaiRun
{
    /// <summary>The held-out test prompts every policy answers: a seeded sample of harmful and of non-harmful ones.</summary>
    private IReadOnlyList<WorldPrompt> EvaluationPrompts()
    {
        var config = _run.Config.Evaluation;
        var random = new Random(unchecked((int)_run.Seed(CaiStages.Evaluation)));
        var all = _run.World.EvaluationPrompts(PromptSplit.Test).OrderBy(p => p.Id, StringComparer.Ordinal).ToList();
        var harmful = all.Where(p => p.Kind == PromptKind.Harmful).OrderBy(_ => random.Next()).Take(config.HarmfulPrompts);
        var other = all.Where(p => p.Kind != PromptKind.Harmful).OrderBy(_ => random.Next()).Take(config.BenignPrompts);
        return [.. harmful.Concat(other)];
    }

    private async Task<IReadOnlyDictionary<string, string>?> EvaluationAsync(IProgress<StageProgress> progress, CancellationToken cancellationToken)
    {
        var prompts = await Task.Run(EvaluationPrompts, cancellationToken).ConfigureAwait(false);
        string? pm = _state.Stage(CaiStages.PreferenceModel).Status == RunStatus.Done ? ModelOf(CaiStages.PreferenceModel) : null;
        var policies = new List<(string Name, string Model)> { ("base", _run.BaseModel) };
        if (_state.Stage(CaiStages.Sft).Status == RunStatus.Done) policies.Add(("sl-cai", ModelOf(CaiStages.Sft)));
        if (_state.Stage(CaiStages.Ppo).Status == RunStatus.Done) policies.Add(("rl-cai", ModelOf(CaiStages.Ppo)));

        int total = policies.Count + (_run.Config.Evaluation.LabelPairs > 0 ? 1 : 0);
        var artifacts = new Dictionary<string, string>();
        for (int i = 0; i < policies.Count; i++)
        {
            var (name, model) = policies[i];
            string file = RunLayout.PolicyEvaluation(name);
            progress.Report(new StageProgress(i, total, $"evaluating the {name} policy on {prompts.Count} test prompts"));
            if (!File.Exists(_run.InRun(file)))
                RunLayout.WriteJson(_run.InRun(file), await EvaluatePolicyAsync(name, model, pm, prompts, cancellationToken).ConfigureAwait(false));
            artifacts[name] = file;
        }
        if (_run.Config.Evaluation.LabelPairs > 0 && _state.Stage(CaiStages.Sft).Status == RunStatus.Done)
        {
            progress.Report(new StageProgress(policies.Count, total, "AI feedback and the PM against the oracle"));
            if (!File.Exists(_run.InRun(RunLayout.FeedbackEvaluation)))
                RunLayout.WriteJson(_run.InRun(RunLayout.FeedbackEvaluation), await EvaluateFeedbackAsync(pm, cancellationToken).ConfigureAwait(false));
            artifacts["labels"] = RunLayout.FeedbackEvaluation;
        }
        progress.Report(new StageProgress(total, total, "evaluated"));
        return artifacts;
    }

    private async Task<PolicyEvaluationFile> EvaluatePolicyAsync(string name, string model, string? pm, IReadOnlyList<WorldPrompt> prompts,
        CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        ulong seed = _run.Seed(CaiStages.Evaluation);
        var responses = await _executor.Model(model).CompleteAsync([.. prompts.Select(p => p.Text)], new GenerationSettings
        {
            MaxNewTokens = _run.Config.Evaluation.MaxNewTokens,
            Temperature = 0.7,
            StopSequences = AnswerStops,
            Seed = seed,
        }, cancellationToken).ConfigureAwait(false);
        var report = PolicyEvaluator.Judge(name, prompts, responses);
        IReadOnlyList<double>? scores = pm is null ? null
            : await ScoreAllAsync(pm, [.. prompts.Select((p, i) => p.Dialogue.WithAssistant(responses[i]).Render())], cancellationToken).ConfigureAwait(false);
        var answers = report.Responses.Select((j, i) => new EvaluatedAnswer(j.Prompt.Id, Metrics.KindName(j.Prompt.Kind), Metrics.GroupOf(j.Prompt),
            j.Prompt.Text, j.Response, Metrics.VerdictName(j.Verdict), PolicyEvaluator.OracleScore(j.Prompt.Kind, j.Verdict), scores?[i])).ToList();
        var rates = report.Rates.Select(r => new EvaluatedRate(r.Metric, r.Group, r.Count, r.Total, r.Rate, r.Low, r.High)).ToList();
        return new PolicyEvaluationFile(name, Relative(model), "test", seed, clock.Elapsed.TotalSeconds, rates, answers);
    }

    /// <summary>
    /// On pairs of SL-CAI answers to held-out test-category prompts (harmful and sensitive-benign) whose two answers
    /// the oracle ranks differently, how often each judge prefers the oracle's better answer: AI feedback with one
    /// principle, with an ensemble of principles, with chain of thought (clamped), and the PM. The oracle only
    /// measures here; nothing it says reaches training.
    /// </summary>
    private async Task<FeedbackEvaluationFile> EvaluateFeedbackAsync(string? pm, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var world = _run.World;
        int wanted = _run.Config.Evaluation.LabelPairs;
        var random = new Random(unchecked((int)_run.Seed(CaiStages.Evaluation)) + 1);
        var prompts = world.EvaluationPrompts(PromptSplit.Test)
            .Where(p => p.Kind != PromptKind.Benign && p.CategorySplit == CategorySplit.Test)
            .OrderBy(p => p.Id, StringComparer.Ordinal).OrderBy(_ => random.Next()).Take(wanted * 2).ToList();
        // Two samples per prompt in one call: prompt i at positions 2i and 2i+1.
        var answers = await _executor.Model(ModelOf(CaiStages.Sft)).CompleteAsync(
            [.. prompts.SelectMany(p => Enumerable.Repeat(p.Text, 2))], new GenerationSettings
            {
                MaxNewTokens = _run.Config.Labels.MaxNewTokens,
                Temperature = 1.0,
                StopSequences = AnswerStops,
                Seed = _run.Seed(CaiStages.Evaluation) + 1,
            }, cancellationToken).ConfigureAwait(false);
        var decisive = new List<(PairItem Pair, WorldPrompt Prompt, bool FirstBetter)>();
        for (int i = 0; i < prompts.Count && decisive.Count < wanted; i++)
        {
            var prompt = prompts[i];
            double a = PolicyEvaluator.OracleScore(prompt, answers[2 * i]), b = PolicyEvaluator.OracleScore(prompt, answers[2 * i + 1]);
            if (a != b) decisive.Add((new PairItem(prompt.Id + "#eval", StageStreams.PromptText(prompt.Dialogue), [answers[2 * i], answers[2 * i + 1]]), prompt, a > b));
        }
        var judges = new List<JudgeAgreement>();
        if (decisive.Count > 0)
        {
            var model = _executor.Model(_run.FeedbackModel);
            var comparisons = decisive.Select(d => d.Pair.ToComparison()).ToList();
            var settings = new (string Name, int Principles, bool ChainOfThought)[]
            {
                ("one-principle", 1, false),
                ("ensemble", _run.Config.Evaluation.EnsemblePrinciples, false),
                ("chain-of-thought", 1, true),
            };
            foreach (var (name, principles, cot) in settings)
            {
                var labeler = new AiFeedbackLabeler(model, _run.Constitution, _run.FeedbackOptions(principles, cot), model);
                var labels = await labeler.LabelAsync(comparisons, cancellationToken).ConfigureAwait(false);
                judges.Add(Agreement(name, decisive, [.. labels.Select(l => l.Probabilities[0])]));
            }
            if (pm is not null)
            {
                var a = await ScoreAllAsync(pm, [.. decisive.Select(d => d.Prompt.Dialogue.WithAssistant(d.Pair.Responses[0]).Render())], cancellationToken).ConfigureAwait(false);
                var b = await ScoreAllAsync(pm, [.. decisive.Select(d => d.Prompt.Dialogue.WithAssistant(d.Pair.Responses[1]).Render())], cancellationToken).ConfigureAwait(false);
                judges.Add(Agreement("preference-model", decisive, [.. a.Select((s, i) => 1 / (1 + Math.Exp(-(s - b[i]))))]));
            }
        }
        return new FeedbackEvaluationFile(prompts.Count, decisive.Count, judges, clock.Elapsed.TotalSeconds);
    }

    /// <summary>A judge's agreement with the oracle from its probabilities that the first answer is better.</summary>
    private static JudgeAgreement Agreement(string judge, IReadOnlyList<(PairItem Pair, WorldPrompt Prompt, bool FirstBetter)> decisive,
        IReadOnlyList<double> firstBetter)
    {
        var right = decisive.Select((d, i) => firstBetter[i] != 0.5 && firstBetter[i] > 0.5 == d.FirstBetter).ToList();
        var byKind = decisive.Select((d, i) => (Kind: Metrics.KindName(d.Prompt.Kind), Right: right[i]))
            .GroupBy(x => x.Kind)
            .ToDictionary(g => g.Key, g => new KindAgreement(g.Count(x => x.Right), g.Count()));
        var calibration = Calibration.Compute(firstBetter, [.. decisive.Select(d => d.FirstBetter)]);
        int agree = right.Count(r => r);
        return new JudgeAgreement(judge, agree, decisive.Count, (double)agree / decisive.Count, calibration.ExpectedCalibrationError, byKind, calibration);
    }

    private async Task<IReadOnlyDictionary<string, string>?> ReportAsync(IProgress<StageProgress> progress, CancellationToken cancellationToken)
    {
        if (_writeReport is null) return null;
        string path = await _writeReport(_run.RunDir, cancellationToken).ConfigureAwait(false);
        progress.Report(new StageProgress(1, 1, path));
        return new Dictionary<string, string> { ["report"] = Relative(path) };
    }
}
