using System.Diagnostics;
using System.Security.Cryptography;
using Cai.Modeling;
using Cai.Modeling.Precision;
using Cai.Training.Data;
using Cai.Training.Optimization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Cai.Training;

/// <summary>What one micro-batch contributed to a step.</summary>
/// <param name="Loss">Scalar mean loss of the micro-batch (differentiable).</param>
/// <param name="Tokens">Non-padding tokens the forward pass read.</param>
/// <param name="Correct">Comparisons ranked the labelled way (preference model), else 0.</param>
/// <param name="Compared">Comparisons with a definite preferred side (preference model), else 0.</param>
public readonly record struct MicroBatchLoss(Tensor Loss, long Tokens, int Correct = 0, int Compared = 0);

/// <summary>
/// The optimisation loop the stage trainers share (the part of a TRL trainer that is not the
/// stage's loss): AdamW with warmup and cosine decay, gradient accumulation and clipping, bfloat16
/// compute with float32 master weights, a seeded data order, <c>checkpoint-{step}</c> folders and
/// an exact resume from the newest of them. A stage supplies its encoded items, its loss on a
/// micro-batch and how its model is saved.
/// </summary>
/// <typeparam name="TItem">An encoded training example (token ids and targets).</typeparam>
/// <typeparam name="TModel">The trained module (float32 master weights).</typeparam>
public abstract class Trainer<TItem, TModel> where TModel : nn.Module
{
    private readonly TrainingOptions _options;

    protected Trainer(TModel model, TrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        options.ThrowIfInvalid();
        if (model.parameters().Any(p => p.dtype != ScalarType.Float32))
            throw new ArgumentException("The model's parameters must be float32 (they are the master weights); use ComputeDtype for bf16 compute.", nameof(model));
        Model = model;
        _options = options;
    }

    /// <summary>The float32 master model the optimizer updates.</summary>
    public TModel Model { get; }

    /// <summary>Written into <see cref="TrainingState.Stage"/>.</summary>
    protected abstract string StageName { get; }

    /// <summary>A second instance of the model's architecture (it becomes the bf16 compute copy).</summary>
    protected abstract TModel CreateComputeCopy();

    /// <summary>The stage's loss on one micro-batch, computed with <paramref name="model"/>.</summary>
    protected abstract MicroBatchLoss ComputeLoss(TModel model, IReadOnlyList<TItem> batch);

    /// <summary>Writes the master model in the Hugging Face layout (float32) into <paramref name="directory"/>.</summary>
    protected abstract void SaveModel(string directory);

    /// <summary>Feeds the item's content into the data fingerprint.</summary>
    protected abstract void WriteFingerprint(BinaryWriter writer, TItem item);

    /// <summary>Runs (or resumes) training on <paramref name="items"/>, saving checkpoints and the final model under <paramref name="outputDirectory"/>.</summary>
    protected TrainingResult Run(IReadOnlyList<TItem> items, string outputDirectory, IProgress<TrainingProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentException.ThrowIfNullOrWhiteSpace(outputDirectory);
        if (items.Count == 0) throw new ArgumentException("There are no training examples.", nameof(items));
        var clock = Stopwatch.StartNew();
        var o = _options;
        var order = new DataOrder(items.Count, o.BatchSize, o.GradientAccumulationSteps, o.Epochs, o.Seed);
        var schedule = new WarmupCosineSchedule(o.LearningRate, o.WarmupSteps, order.TotalSteps, o.MinLearningRateRatio);
        var fingerprint = Fingerprint(items);
        Directory.CreateDirectory(outputDirectory);

        Model.train();
        var master = Model.parameters().ToList();
        // bf16: forward and backward run on a bf16 copy; the optimizer updates the float32 master.
        using var computeCopy = o.ComputeDtype == ScalarType.BFloat16 ? CreateComputeCopy() : null;
        var mixed = computeCopy is null ? null : new MixedPrecision(Model, computeCopy, ScalarType.BFloat16);
        TModel trainee = computeCopy ?? Model;
        trainee.train();

        using var optimizer = CreateOptimizer(master);
        int startStep = 0;
        int? resumedFrom = null;
        var latest = TrainingState.LatestCheckpoint(outputDirectory);
        if (latest is not null && !o.ResumeFromCheckpoint)
            throw new InvalidOperationException(
                $"{outputDirectory} already holds checkpoints ({Path.GetFileName(latest)}) and ResumeFromCheckpoint is off: " +
                "use an empty output folder for a fresh run, so old checkpoints are never mistaken for this run's.");
        if (latest is { } checkpoint)
        {
            var saved = TrainingState.Load(checkpoint);
            saved.EnsureContinues(StateAt(0, order, fingerprint, double.NaN), checkpoint);
            Checkpoint.LoadInto(Model, checkpoint);
            optimizer.load_state_dict(Path.Combine(checkpoint, TrainingState.OptimizerFileName));
            mixed?.CopyMasterToCompute();
            startStep = saved.GlobalStep;
            resumedFrom = startStep;
        }

        double lastLoss = double.NaN;
        long tokensThisCall = 0;
        double secondsThisCall = 0;
        for (int step = startStep; step < order.TotalSteps; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var stepClock = Stopwatch.StartNew();
            double lr = schedule.At(step);
            foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;

            double lossSum = 0;
            long tokens = 0;
            int correct = 0, compared = 0;
            double gradNorm;
            using (var scope = NewDisposeScope())
            {
                optimizer.zero_grad();
                var microBatches = order.MicroBatches(step);
                foreach (var indices in microBatches)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var result = ComputeLoss(trainee, indices.Select(i => items[i]).ToList());
                    // Each micro-batch's mean loss counts equally in the step's gradient.
                    (result.Loss / microBatches.Count).backward();
                    lossSum += result.Loss.to(ScalarType.Float64).item<double>();
                    tokens += result.Tokens;
                    correct += result.Correct;
                    compared += result.Compared;
                    mixed?.AccumulateGradients();
                }
                // With clipping off, a norm of +inf leaves the gradients alone and still measures them.
                gradNorm = nn.utils.clip_grad_norm_(master, o.MaxGradNorm > 0 ? o.MaxGradNorm : double.PositiveInfinity);
                optimizer.step();
                mixed?.CopyMasterToCompute();
                lastLoss = lossSum / microBatches.Count;
            }

            double seconds = stepClock.Elapsed.TotalSeconds;
            tokensThisCall += tokens;
            secondsThisCall += seconds;
            progress?.Report(new TrainingProgress(step + 1, order.TotalSteps, order.EpochOf(step), lastLoss, lr,
                tokens / Math.Max(seconds, 1e-9), gradNorm, compared > 0 ? (double)correct / compared : null));

            if (o.CheckpointEvery > 0 && (step + 1) % o.CheckpointEvery == 0 && step + 1 < order.TotalSteps)
                SaveCheckpoint(outputDirectory, optimizer, StateAt(step + 1, order, fingerprint, lastLoss));
        }

        cancellationToken.ThrowIfCancellationRequested();
        SaveModel(outputDirectory);
        StateAt(order.TotalSteps, order, fingerprint, lastLoss).Save(outputDirectory);
        return new TrainingResult(order.TotalSteps, resumedFrom, lastLoss,
            secondsThisCall > 0 ? tokensThisCall / secondsThisCall : 0, outputDirectory, clock.Elapsed);
    }

    private TrainingState StateAt(int step, DataOrder order, string fingerprint, double loss) => new()
    {
        Stage = StageName,
        GlobalStep = step,
        TotalSteps = order.TotalSteps,
        Epoch = step < order.TotalSteps ? order.EpochOf(step) : order.Epochs,
        ExampleCursor = step < order.TotalSteps ? order.ExampleCursor(step) : 0,
        Seed = order.Seed,
        ExampleCount = order.ExampleCount,
        DataFingerprint = fingerprint,
        BatchSize = order.BatchSize,
        GradientAccumulationSteps = order.AccumulationSteps,
        Epochs = order.Epochs,
        ComputeDtype = _options.ComputeDtype.ToString(),
        LastLoss = loss,
    };

    /// <summary>AdamW with decoupled weight decay on matrices only: decaying norm gains and biases
    /// towards zero would only fight the normalisation.</summary>
    private AdamW CreateOptimizer(IReadOnlyList<Parameter> parameters)
    {
        var o = _options;
        var decay = parameters.Where(p => p.dim() >= 2).ToList();
        var noDecay = parameters.Where(p => p.dim() < 2).ToList();
        var groups = new List<AdamW.ParamGroup>();
        if (decay.Count > 0) groups.Add(new AdamW.ParamGroup(decay, o.LearningRate, o.Beta1, o.Beta2, o.Epsilon, o.WeightDecay));
        if (noDecay.Count > 0) groups.Add(new AdamW.ParamGroup(noDecay, o.LearningRate, o.Beta1, o.Beta2, o.Epsilon, 0));
        return optim.AdamW(groups, o.LearningRate, o.Beta1, o.Beta2, o.Epsilon, o.WeightDecay);
    }

    private void SaveCheckpoint(string outputDirectory, AdamW optimizer, TrainingState state)
    {
        var final = Path.Combine(outputDirectory, TrainingState.CheckpointPrefix + state.GlobalStep.ToString(System.Globalization.CultureInfo.InvariantCulture));
        // Written beside and renamed, so an interrupted save never looks like a complete checkpoint.
        var temp = final + ".tmp";
        if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        Directory.CreateDirectory(temp);
        SaveModel(temp);
        optimizer.save_state_dict(Path.Combine(temp, TrainingState.OptimizerFileName));
        state.Save(temp);
        if (Directory.Exists(final)) Directory.Delete(final, recursive: true);
        Directory.Move(temp, final);

        if (_options.KeepCheckpoints > 0)
        {
            var all = TrainingState.Checkpoints(outputDirectory);
            foreach (var (_, old) in all.Take(Math.Max(0, all.Count - _options.KeepCheckpoints)))
                Directory.Delete(old, recursive: true);
        }
    }

    private string Fingerprint(IReadOnlyList<TItem> items)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
            foreach (var item in items) WriteFingerprint(writer, item);
        return Convert.ToHexStringLower(SHA256.HashData(stream.ToArray()));
    }
}
