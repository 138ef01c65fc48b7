using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Cai.Core.Generation;
using Cai.Modeling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Cai.Training.Ppo;

/// <summary>
/// RL-CAI's policy optimisation: PPO against the preference model with a KL penalty to the SL-CAI
/// policy. Each iteration draws prompts, makes an <see cref="Experience"/> (rollouts, reward, KL,
/// GAE; see <see cref="ExperienceMaker"/>), runs <see cref="PpoOptions.PpoEpochs"/> passes of
/// clipped policy and value updates over it, and adapts beta. Checkpoints hold both models, both
/// optimizers and <see cref="PpoState"/>; a run resumed from one is bit-identical to one that was
/// never interrupted (same thread count and device).
/// </summary>
public sealed class PpoTrainer
{
    private const string PromptOrderStream = "ppo-prompt-order";
    private const string RolloutStream = "ppo-rollout";
    private const string MinibatchStream = "ppo-minibatch-order";

    private readonly PolicyModel _policy;
    private readonly ValueModel _value;
    private readonly PpoOptions _options;
    private readonly ExperienceMaker _maker;
    private readonly string? _tokenizerDirectory;

    /// <param name="policy">The policy to optimise (initialised from SL-CAI).</param>
    /// <param name="reference">The frozen SL-CAI model the KL is measured against.</param>
    /// <param name="value">The value model (see <see cref="ValueModel.Create"/>).</param>
    /// <param name="reward">The preference model, in-process or remote.</param>
    /// <param name="options">Hyperparameters.</param>
    /// <param name="tokenizerDirectory">Folder whose tokenizer files are copied beside every saved policy; null copies none.</param>
    public PpoTrainer(PolicyModel policy, ReferenceModel reference, ValueModel value, IRewardModel reward, PpoOptions options, string? tokenizerDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.ThrowIfInvalid();
        _maker = new ExperienceMaker(policy, reference, value, reward, options);
        if (ReferenceEquals(policy.Model, reference.Model))
            throw new ArgumentException("The reference must be a separate, frozen copy of the policy (see ReferenceModel.CopyOf).", nameof(reference));
        if (reference.Model.Config.VocabSize != policy.Model.Config.VocabSize)
            throw new ArgumentException($"The reference's vocab_size ({reference.Model.Config.VocabSize}) differs from the policy's ({policy.Model.Config.VocabSize}).", nameof(reference));
        if (value.Model.Config.VocabSize != policy.Model.Config.VocabSize)
            throw new ArgumentException($"The value model's vocab_size ({value.Model.Config.VocabSize}) differs from the policy's ({policy.Model.Config.VocabSize}).", nameof(value));
        ModelFiles.RequireTokenizer(tokenizerDirectory, nameof(tokenizerDirectory));
        _policy = policy;
        _value = value;
        _options = options;
        _tokenizerDirectory = tokenizerDirectory;
        KlController = options.CreateKlController();
    }

    /// <summary>The controller of beta (restored from the checkpoint on resume).</summary>
    public IKlController KlController { get; private set; }

    /// <summary>
    /// Runs (or resumes) PPO on <paramref name="prompts"/> (token ids of dialogues ending with
    /// "Assistant:"), saving <c>checkpoint-{iteration}</c> folders and finally the policy (HF
    /// layout) with <c>value/</c> under <paramref name="outputDirectory"/>.
    /// </summary>
    public PpoResult Train(IReadOnlyList<int[]> prompts, string outputDirectory, IProgress<PpoStepStats>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ValidatePrompts(prompts);
        ArgumentException.ThrowIfNullOrWhiteSpace(outputDirectory);
        var clock = Stopwatch.StartNew();
        Directory.CreateDirectory(outputDirectory);
        _policy.Model.train();
        _value.Model.train();
        using var policyOptimizer = CreateOptimizer(_policy.Model.parameters(), _options.LearningRate);
        using var valueOptimizer = CreateOptimizer(_value.Model.parameters(), _options.ValueLearningRate);
        var fresh = StateAt(0, prompts);
        int start = Resume(outputDirectory, fresh, policyOptimizer, valueOptimizer);

        PpoStepStats? last = null;
        for (int iteration = start; iteration < _options.Iterations; iteration++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            last = RunIteration(prompts, iteration, policyOptimizer, valueOptimizer, cancellationToken);
            PpoTelemetry.Record(last);
            progress?.Report(last);
            int done = iteration + 1;
            if (_options.CheckpointEvery > 0 && done % _options.CheckpointEvery == 0 && done < _options.Iterations)
                SaveCheckpoint(outputDirectory, StateAt(done, prompts), policyOptimizer, valueOptimizer);
        }
        cancellationToken.ThrowIfCancellationRequested();
        SaveModels(outputDirectory);
        StateAt(_options.Iterations, prompts).Save(outputDirectory);
        return new PpoResult(_options.Iterations, start > 0 ? start : null, last, outputDirectory, clock.Elapsed);
    }

    /// <summary>One iteration: rollouts, then clipped updates, then the KL controller.</summary>
    private PpoStepStats RunIteration(IReadOnlyList<int[]> prompts, int iteration, AdamW policyOptimizer, AdamW valueOptimizer, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        double beta = KlController.Coefficient;
        long samplingSeed = (long)(DeterministicRandom.ForItem(_options.Seed, RolloutStream, Invariant(iteration)).NextUInt64() >> 1);
        var (experience, rollout) = _maker.Make(PromptsFor(prompts, iteration), beta, samplingSeed, cancellationToken);
        double rolloutSeconds = clock.Elapsed.TotalSeconds;
        int samples = experience.Count;
        UpdateTotals update;
        using (experience) update = Optimize(experience, iteration, policyOptimizer, valueOptimizer, cancellationToken);
        KlController.Update(rollout.MeanKl, samples);
        return new PpoStepStats(iteration + 1, _options.Iterations, rollout.MeanReward, rollout.MeanScore, rollout.MeanKl, beta,
            rollout.MeanEntropy, update.Mean(update.ClipFraction), update.Mean(update.ValueClipFraction), update.Mean(update.PolicyLoss),
            update.Mean(update.ValueLoss), update.Mean(update.ApproxKl), rollout.ExplainedVariance, rollout.MeanResponseLength,
            rollout.StoppedFraction, rolloutSeconds, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Running sums of the minibatch statistics of one iteration.</summary>
    private sealed class UpdateTotals
    {
        public double PolicyLoss, ValueLoss, ClipFraction, ValueClipFraction, ApproxKl;
        public int MicroBatches;
        public double Mean(double sum) => MicroBatches > 0 ? sum / MicroBatches : double.NaN;
    }

    /// <summary><see cref="PpoOptions.PpoEpochs"/> passes over the experience in seeded minibatch orders.</summary>
    private UpdateTotals Optimize(Experience experience, int iteration, AdamW policyOptimizer, AdamW valueOptimizer, CancellationToken cancellationToken)
    {
        var totals = new UpdateTotals();
        int n = experience.Count;
        for (int epoch = 0; epoch < _options.PpoEpochs; epoch++)
        {
            var order = DeterministicRandom.ForItem(_options.Seed, MinibatchStream, $"{Invariant(iteration)}/{Invariant(epoch)}").SampleWithoutReplacement(n, n);
            for (int start = 0; start < n; start += _options.MiniBatchSize)
            {
                cancellationToken.ThrowIfCancellationRequested();
                Step(experience, order[start..Math.Min(n, start + _options.MiniBatchSize)], policyOptimizer, valueOptimizer, totals, cancellationToken);
            }
        }
        return totals;
    }

    /// <summary>One optimizer step on a minibatch, accumulated over <see cref="PpoOptions.GradientAccumulationSteps"/> micro-batches.</summary>
    private void Step(Experience experience, int[] rows, AdamW policyOptimizer, AdamW valueOptimizer, UpdateTotals totals, CancellationToken cancellationToken)
    {
        using var scope = NewDisposeScope();
        policyOptimizer.zero_grad();
        valueOptimizer.zero_grad();
        int microSize = Math.Max(1, _options.MiniBatchSize / _options.GradientAccumulationSteps);
        for (int start = 0; start < rows.Length; start += microSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var micro = rows[start..Math.Min(rows.Length, start + microSize)];
            var loss = Loss(experience.Select(micro), totals);
            // Weighted by its share of the minibatch, so the summed gradient is the minibatch's mean.
            (loss * ((double)micro.Length / rows.Length)).backward();
        }
        Clip(_policy.Model);
        Clip(_value.Model);
        policyOptimizer.step();
        valueOptimizer.step();
    }

    /// <summary>Clipped policy loss + vf_coef x clipped value loss - entropy bonus on one micro-batch.</summary>
    private Tensor Loss(Experience batch, UpdateTotals totals)
    {
        var o = _options;
        int r = batch.ResponseLength;
        var actions = _policy.Evaluate(batch.Sequences, batch.AttentionMask, r, withEntropy: o.EntropyCoefficient > 0);
        var policy = PolicyLoss.Compute(actions.LogProbs, batch.OldLogProbs, batch.Advantages, batch.ActionMask, o.ClipRange);
        var values = _value.Values(batch.Sequences, batch.AttentionMask, r);
        var value = ValueLoss.Compute(values, batch.Values, batch.Returns, batch.ActionMask, o.ValueClipRange);
        var loss = policy.Loss + o.ValueLossCoefficient * value.Loss;
        if (actions.Entropy is { } entropy) loss -= EntropyBonus.Compute(entropy, batch.ActionMask, o.EntropyCoefficient);

        totals.PolicyLoss += policy.Loss.item<float>();
        totals.ValueLoss += value.Loss.item<float>();
        totals.ClipFraction += policy.ClipFraction.item<float>();
        totals.ValueClipFraction += value.ClipFraction.item<float>();
        totals.ApproxKl += policy.ApproxKl.item<float>();
        totals.MicroBatches++;
        return loss;
    }

    private void Clip(nn.Module model)
    {
        if (_options.MaxGradNorm > 0) nn.utils.clip_grad_norm_(model.parameters(), _options.MaxGradNorm);
    }

    /// <summary>The prompts of an iteration: consecutive slices of per-pass seeded permutations of the prompt set.</summary>
    private IReadOnlyList<int[]> PromptsFor(IReadOnlyList<int[]> prompts, int iteration)
    {
        int n = prompts.Count;
        var result = new int[_options.PromptsPerIteration][];
        int[]? permutation = null;
        long cachedPass = -1;
        for (int k = 0; k < result.Length; k++)
        {
            long position = (long)iteration * _options.PromptsPerIteration + k;
            long pass = position / n;
            if (pass != cachedPass)
            {
                permutation = DeterministicRandom.ForItem(_options.Seed, PromptOrderStream, pass.ToString(CultureInfo.InvariantCulture)).SampleWithoutReplacement(n, n);
                cachedPass = pass;
            }
            result[k] = prompts[permutation![(int)(position % n)]];
        }
        return result;
    }

    /// <summary>Loads the newest checkpoint when there is one; returns the iteration to start from.</summary>
    private int Resume(string outputDirectory, PpoState fresh, AdamW policyOptimizer, AdamW valueOptimizer)
    {
        var checkpoints = PpoState.Checkpoints(outputDirectory);
        if (checkpoints.Count == 0) return 0;
        var (_, latest) = checkpoints[^1];
        if (!_options.ResumeFromCheckpoint)
            throw new InvalidOperationException($"{outputDirectory} already holds checkpoints ({Path.GetFileName(latest)}) and ResumeFromCheckpoint is off: " +
                "use an empty output folder for a fresh run.");
        var saved = PpoState.Load(latest);
        saved.EnsureContinues(fresh, latest);
        Checkpoint.LoadInto(_policy.Model, latest);
        Checkpoint.LoadInto(_value.Model, Path.Combine(latest, PpoState.ValueDirectory));
        policyOptimizer.load_state_dict(Path.Combine(latest, PpoState.PolicyOptimizerFile));
        valueOptimizer.load_state_dict(Path.Combine(latest, PpoState.ValueOptimizerFile));
        KlController = _options.CreateKlController(saved.KlCoefficient);
        return saved.Iteration;
    }

    private void SaveCheckpoint(string outputDirectory, PpoState state, AdamW policyOptimizer, AdamW valueOptimizer)
    {
        var final = Path.Combine(outputDirectory, PpoState.CheckpointPrefix + Invariant(state.Iteration));
        // Written beside and renamed, so an interrupted save never looks like a complete checkpoint.
        var temp = final + ".tmp";
        if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        Directory.CreateDirectory(temp);
        SaveModels(temp);
        policyOptimizer.save_state_dict(Path.Combine(temp, PpoState.PolicyOptimizerFile));
        valueOptimizer.save_state_dict(Path.Combine(temp, PpoState.ValueOptimizerFile));
        state.Save(temp);
        if (Directory.Exists(final)) Directory.Delete(final, recursive: true);
        Directory.Move(temp, final);
        if (_options.KeepCheckpoints > 0)
        {
            var all = PpoState.Checkpoints(outputDirectory);
            foreach (var (_, old) in all.Take(Math.Max(0, all.Count - _options.KeepCheckpoints)))
                Directory.Delete(old, recursive: true);
        }
    }

    /// <summary>The policy in the HF layout (with its tokenizer) at <paramref name="directory"/>, the value model in <c>value/</c>.</summary>
    private void SaveModels(string directory)
    {
        Checkpoint.Save(_policy.Model, directory);
        ModelFiles.CopyTokenizer(_tokenizerDirectory, directory);
        _value.Model.Save(Path.Combine(directory, PpoState.ValueDirectory));
    }

    private PpoState StateAt(int iteration, IReadOnlyList<int[]> prompts) => new()
    {
        Iteration = iteration,
        TotalIterations = _options.Iterations,
        KlCoefficient = KlController.Coefficient,
        Seed = _options.Seed,
        PromptCount = prompts.Count,
        PromptFingerprint = PromptFingerprint(prompts),
        OptionsFingerprint = OptionsFingerprint(_options),
    };

    private static string PromptFingerprint(IReadOnlyList<int[]> prompts)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
            foreach (var p in prompts)
            {
                writer.Write(p.Length);
                foreach (var id in p) writer.Write(id);
            }
        return Convert.ToHexStringLower(SHA256.HashData(stream.ToArray()));
    }

    /// <summary>Options that change what the run computes; the length of the run and checkpointing may change on resume.</summary>
    private static string OptionsFingerprint(PpoOptions o) => Convert.ToHexStringLower(SHA256.HashData(
        JsonSerializer.SerializeToUtf8Bytes(o with { Iterations = 1, CheckpointEvery = 0, KeepCheckpoints = 0, ResumeFromCheckpoint = true })));

    private void ValidatePrompts(IReadOnlyList<int[]> prompts)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        if (prompts.Count == 0) throw new ArgumentException("There are no prompts.", nameof(prompts));
        var config = _policy.Model.Config;
        for (int i = 0; i < prompts.Count; i++)
        {
            var p = prompts[i];
            if (p is not { Length: > 0 }) throw new ArgumentException($"prompts[{i}] is null or empty.", nameof(prompts));
            if (p.Length + _options.MaxNewTokens > config.MaxPositionEmbeddings)
                throw new ArgumentException($"prompts[{i}] ({p.Length} tokens) + MaxNewTokens ({_options.MaxNewTokens}) exceeds max_position_embeddings ({config.MaxPositionEmbeddings}).", nameof(prompts));
            if (p.Any(t => t < 0 || t >= config.VocabSize))
                throw new ArgumentException($"prompts[{i}] has a token id outside [0, {config.VocabSize}).", nameof(prompts));
        }
    }

    /// <summary>AdamW, decaying matrices and embeddings only (decaying norm gains would fight the normalisation).</summary>
    private AdamW CreateOptimizer(IEnumerable<Parameter> parameters, double learningRate)
    {
        var all = parameters.ToList();
        var groups = new List<AdamW.ParamGroup>();
        var decay = all.Where(p => p.dim() >= 2).ToList();
        var noDecay = all.Where(p => p.dim() < 2).ToList();
        if (decay.Count > 0) groups.Add(new AdamW.ParamGroup(decay, learningRate, 0.9, 0.999, 1e-8, _options.WeightDecay));
        if (noDecay.Count > 0) groups.Add(new AdamW.ParamGroup(noDecay, learningRate, 0.9, 0.999, 1e-8, 0));
        return optim.AdamW(groups, learningRate, 0.9, 0.999, 1e-8, _options.WeightDecay);
    }

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
