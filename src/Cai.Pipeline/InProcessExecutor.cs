using Cai.Core.Data;
using Cai.Core.Dialogues;
using Cai.Core.CritiqueRevision;
using Cai.Core.Feedback;
using Cai.Inference;
using Cai.Inference.TrainingData;
using Cai.Modeling;
using Cai.Modeling.Tokenization;
using Cai.Training;
using Cai.Training.Data;
using Cai.Training.Jobs;
using Cai.Training.Ppo;
using Cai.Training.PreferenceModel;
using Cai.Training.Sft;
using static TorchSharp.torch;

namespace Cai.Pipeline;

/// <summary>
/// Runs every stage in this process, with no Redis and no gRPC (<c>cai run --in-process</c>): models are loaded
/// here (the two most recently used stay loaded), critique/revision and labelling call the same loops the workers
/// run, training calls the same <see cref="StageTraining"/> entry points the services call.
/// </summary>
public sealed class InProcessExecutor : IStageExecutor, IDisposable
{
    private readonly LanguageModelFactory _models;
    private readonly Lock _scorerLock = new();
    private (string Path, ScalarHeadModel Model, HfTokenizer Tokenizer, PreferenceModelScorer Scorer)? _scorer;

    /// <param name="threads">Torch threads (0: the library's default).</param>
    /// <param name="batchSize">Sequences per in-process generation call.</param>
    public InProcessExecutor(int threads = 0, int batchSize = 64)
    {
        if (threads > 0) set_num_threads(threads);
        _models = new LanguageModelFactory(new InferenceOptions
        {
            ArtifactsRoot = Path.GetPathRoot(Environment.CurrentDirectory) ?? "/",
            LocalBatchSize = batchSize,
            MaxLocalModels = 2,
            Threads = threads,
        });
    }

    public ILanguageModel Model(string path) => _models.Get(path);

    public async Task CritiqueReviseAsync(RunContext run, IReadOnlyList<PromptItem> prompts, Func<RevisionItem, Task> onRecord,
        CancellationToken cancellationToken)
    {
        var options = run.CritiqueOptions();
        var loop = new CritiqueRevisionLoop(Model(run.BaseModel), run.Constitution, options);
        var records = prompts.Select(p => p.ToPromptRecord()).ToList();
        var kinds = prompts.ToDictionary(p => p.Id, p => p.Kind);
        await foreach (var batch in loop.RunBatchesAsync(records, null, cancellationToken).ConfigureAwait(false))
            foreach (var trace in batch)
                await onRecord(RevisionItem.FromTrace(trace, kinds[trace.PromptId])).ConfigureAwait(false);
    }

    public async Task LabelAsync(RunContext run, IReadOnlyList<PairItem> pairs, Func<ComparisonItem, Task> onLabel, CancellationToken cancellationToken)
    {
        var model = Model(run.FeedbackModel);
        var labeler = new AiFeedbackLabeler(model, run.Constitution, run.FeedbackOptions(), model);
        var byId = pairs.ToDictionary(p => p.Id);
        await foreach (var batch in labeler.LabelBatchesAsync([.. pairs.Select(p => p.ToComparison())], cancellationToken).ConfigureAwait(false))
            foreach (var label in batch)
                await onLabel(ComparisonItem.FromLabel(byId[label.ComparisonId], label)).ConfigureAwait(false);
    }

    public Task<string> TrainSftAsync(SftJob job, IProgress<StageProgress> progress, CancellationToken cancellationToken) =>
        Task.Run(() =>
        {
            var (revisions, helpful) = SftData.LoadFiles(job.DataFiles, p => p, cancellationToken);
            var options = new SftOptions
            {
                HelpfulMixRatio = job.HelpfulRatio,
                Epochs = job.Epochs,
                LearningRate = job.LearningRate,
                BatchSize = job.BatchSize,
                ComputeDtype = job.Bf16 ? ScalarType.BFloat16 : ScalarType.Float32,
                Seed = job.Seed,
                ResumeFromCheckpoint = true,
            };
            var examples = TrainingMix.Combine(revisions, helpful, options.HelpfulMixRatio, options.Seed);
            var result = StageTraining.Sft(job.BaseModel, job.OutputDir, options, examples, Steps(progress), cancellationToken);
            return result.ModelDirectory;
        }, cancellationToken);

    public Task<string> TrainPreferenceModelAsync(PmJob job, IProgress<StageProgress> progress, CancellationToken cancellationToken) =>
        Task.Run(() =>
        {
            var (harmless, helpful) = ComparisonFiles.Load(job.DataFiles, p => p, cancellationToken);
            var options = new PmOptions
            {
                HelpfulMixRatio = job.HelpfulRatio,
                Epochs = job.Epochs,
                LearningRate = job.LearningRate,
                BatchSize = job.BatchSize,
                ComputeDtype = job.Bf16 ? ScalarType.BFloat16 : ScalarType.Float32,
                Seed = job.Seed,
                ResumeFromCheckpoint = true,
            };
            var comparisons = harmless.Count > 0 ? TrainingMix.Combine(harmless, helpful, options.HelpfulMixRatio, options.Seed) : helpful;
            if (comparisons.Count == 0) throw new ArgumentException("the preference model's data files hold no comparisons", nameof(job));
            var (result, _) = StageTraining.PreferenceModel(job.InitModel, job.OutputDir, options, comparisons, Steps(progress), cancellationToken);
            return result.ModelDirectory;
        }, cancellationToken);

    public Task<string> TrainPpoAsync(PpoJob job, IProgress<StageProgress> progress, CancellationToken cancellationToken) =>
        Task.Run(() =>
        {
            var prompts = PromptFile.Load(job.PromptFile, cancellationToken);
            var options = StageTraining.PpoOptionsFor(job.Iterations, job.PromptsPerIteration, job.MaxNewTokens, job.LearningRate,
                job.KlCoefficient, job.KlTarget, job.Epochs, job.Seed, resume: true);
            var result = StageTraining.Ppo(job.PolicyModel, job.RewardModel, job.OutputDir, options, prompts, new SyncProgress<PpoStepStats>(s =>
                progress.Report(new StageProgress(s.Iteration, s.TotalIterations, $"reward {s.MeanReward:F3} score {s.MeanScore:F3} kl {s.Kl:F3}"))),
                cancellationToken);
            return result.OutputDirectory;
        }, cancellationToken);

    public Task<IReadOnlyList<float>> ScoreAsync(string preferenceModel, IReadOnlyList<string> dialogues, CancellationToken cancellationToken) =>
        Task.Run<IReadOnlyList<float>>(() =>
        {
            var parsed = dialogues.Select((text, i) => Dialogue.TryParseResponse(text, out var d) ? d!
                : throw new ArgumentException($"dialogues[{i}] is not a \"\\n\\nHuman: ...\\n\\nAssistant: ...\" dialogue", nameof(dialogues))).ToList();
            lock (_scorerLock)
            {
                if (_scorer?.Path != preferenceModel)
                {
                    DisposeScorer();
                    var tokenizer = HfTokenizer.Load(preferenceModel);
                    var model = ScalarHeadModel.Load(preferenceModel);
                    model.eval();
                    _scorer = (preferenceModel, model, tokenizer, new PreferenceModelScorer(model, tokenizer));
                }
                return _scorer.Value.Scorer.Score(parsed, cancellationToken);
            }
        }, cancellationToken);

    private static SyncProgress<TrainingProgress> Steps(IProgress<StageProgress> progress) =>
        new(p => progress.Report(new StageProgress(p.Step, p.TotalSteps, $"loss {p.Loss:F4}")));

    private void DisposeScorer()
    {
        if (_scorer is { } s)
        {
            s.Model.Dispose();
            s.Tokenizer.Dispose();
            _scorer = null;
        }
    }

    public void Dispose()
    {
        lock (_scorerLock) DisposeScorer();
        _models.Dispose();
    }
}

/// <summary>An <see cref="IProgress{T}"/> that reports on the caller's thread (no synchronisation context hop).</summary>
public sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
