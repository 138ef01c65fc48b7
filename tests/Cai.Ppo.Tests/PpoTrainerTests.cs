using System.Diagnostics;
using System.Diagnostics.Metrics;
using Cai.Modeling;
using Cai.Training.Ppo;
using Xunit.Abstractions;
using static Cai.Ppo.Tests.TestSupport;
using static TorchSharp.torch;

namespace Cai.Ppo.Tests;

public class PpoTrainerTests(ITestOutputHelper output)
{
    private const int TargetToken = 7;

    private static PpoOptions ToyOptions => new()
    {
        Iterations = 20,
        PromptsPerIteration = 16,
        RolloutBatchSize = 16,
        MaxNewTokens = 6,
        MiniBatchSize = 8,
        PpoEpochs = 2,
        LearningRate = 2e-3,
        ValueLearningRate = 2e-3,
        KlCoefficient = 0.02,
        AdaptiveKl = false,
        CheckpointEvery = 0,
        Seed = 11,
    };

    [Fact]
    public void RewardForEmittingOneTokenRisesOnATinyModel()
    {
        var (policy, reference, value) = Roles();
        var trainer = new PpoTrainer(policy, reference, value, new TokenFractionReward(TargetToken), ToyOptions);
        var curve = new List<PpoStepStats>();
        var clock = Stopwatch.StartNew();
        var result = trainer.Train(Prompts(), TempDir("toy"), new SyncProgress<PpoStepStats>(curve.Add));

        output.WriteLine($"seconds/iteration {clock.Elapsed.TotalSeconds / curve.Count:F3}");
        foreach (var s in curve)
            output.WriteLine($"{s.Iteration,3} score {s.MeanScore:F3} reward {s.MeanReward:F3} kl {s.Kl:F3} entropy {s.Entropy:F3} clip {s.ClipFraction:F3} vloss {s.ValueLoss:F4} ev {s.ExplainedVariance:F3}");
        Assert.Equal(ToyOptions.Iterations, curve.Count);
        Assert.Null(result.ResumedFromIteration);
        double first = curve.Take(5).Average(s => s.MeanScore), last = curve.TakeLast(5).Average(s => s.MeanScore);
        // Chance is 1/16 of the tokens; the policy must learn to say the target far more often.
        Assert.True(first < 0.2, $"the untrained policy already scores {first:F3}");
        Assert.True(last > first + 0.3, $"mean score rose only from {first:F3} to {last:F3}");
        Assert.True(curve[^1].Kl > curve[0].Kl, "the policy did not move away from the reference");
        Assert.True(File.Exists(Path.Combine(result.OutputDirectory, Checkpoint.WeightsFile)));
        Assert.True(File.Exists(Path.Combine(result.OutputDirectory, PpoState.ValueDirectory, Checkpoint.WeightsFile)));
    }

    [Fact]
    public void ResumedRunIsBitIdenticalToAnUninterruptedOne()
    {
        // Adaptive beta, accumulation and the entropy bonus all carry state or randomness across the break.
        var options = ToyOptions with
        {
            Iterations = 4, CheckpointEvery = 2, KeepCheckpoints = 0, AdaptiveKl = true, KlHorizon = 50, KlTarget = 0.5,
            GradientAccumulationSteps = 2, EntropyCoefficient = 0.01,
        };
        var prompts = Prompts();
        var reward = new TokenFractionReward(TargetToken);

        var straight = Roles();
        var straightTrainer = new PpoTrainer(straight.Policy, straight.Reference, straight.Value, reward, options);
        straightTrainer.Train(prompts, TempDir("straight"));

        var dir = TempDir("resumed");
        var first = Roles();
        using var cts = new CancellationTokenSource();
        // Stopped after iteration 3, past the checkpoint at 2: the resume must redo iteration 3.
        Assert.ThrowsAny<OperationCanceledException>(() => new PpoTrainer(first.Policy, first.Reference, first.Value, reward, options)
            .Train(prompts, dir, new SyncProgress<PpoStepStats>(s => { if (s.Iteration == 3) cts.Cancel(); }), cts.Token));

        var second = Roles();
        var resumedTrainer = new PpoTrainer(second.Policy, second.Reference, second.Value, reward, options);
        var result = resumedTrainer.Train(prompts, dir);

        Assert.Equal(2, result.ResumedFromIteration);
        AssertIdentical(straight.Policy.Model, second.Policy.Model);
        AssertIdentical(straight.Value.Model, second.Value.Model);
        Assert.Equal(straightTrainer.KlController.Coefficient, resumedTrainer.KlController.Coefficient);
        Assert.NotEqual(options.KlCoefficient, resumedTrainer.KlController.Coefficient);
    }

    [Fact]
    public void ResumeWithOtherOptionsIsRefusedNamingTheField()
    {
        var options = ToyOptions with { Iterations = 2, CheckpointEvery = 1 };
        var dir = TempDir("mismatch");
        var roles = Roles();
        using var cts = new CancellationTokenSource();
        Assert.ThrowsAny<OperationCanceledException>(() => new PpoTrainer(roles.Policy, roles.Reference, roles.Value, new TokenFractionReward(TargetToken), options)
            .Train(Prompts(), dir, new SyncProgress<PpoStepStats>(_ => cts.Cancel()), cts.Token));
        var again = Roles();
        var e = Assert.Throws<InvalidOperationException>(() => new PpoTrainer(again.Policy, again.Reference, again.Value, new TokenFractionReward(TargetToken), options with { LearningRate = 1e-3 })
            .Train(Prompts(), dir));
        Assert.Contains("options_fingerprint", e.Message);
    }

    [Fact]
    public void GradientAccumulationMatchesOneLargeMinibatch()
    {
        // One optimizer step (one iteration, one epoch, one minibatch); its gradients stay on the
        // parameters afterwards. With equal-length responses, four micro-batches weighted by size
        // must give the whole minibatch's gradient up to float rounding.
        var options = ToyOptions with { Iterations = 1, PpoEpochs = 1, MiniBatchSize = 16, MaxGradNorm = 0 };
        var whole = Roles();
        new PpoTrainer(whole.Policy, whole.Reference, whole.Value, new TokenFractionReward(TargetToken), options).Train(Prompts(), TempDir("whole"));
        var split = Roles();
        new PpoTrainer(split.Policy, split.Reference, split.Value, new TokenFractionReward(TargetToken), options with { GradientAccumulationSteps = 4 }).Train(Prompts(), TempDir("split"));

        foreach (var (wholeModel, splitModel) in new (nn.Module, nn.Module)[] { (whole.Policy.Model, split.Policy.Model), (whole.Value.Model, split.Value.Model) })
        {
            var expected = wholeModel.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad);
            foreach (var (name, p) in splitModel.named_parameters())
            {
                Assert.NotNull(expected[name]);
                Assert.True(expected[name]!.abs().max().item<float>() > 0, $"no gradient reached {name}");
                Assert.True(p.grad!.allclose(expected[name]!, rtol: 1e-3, atol: 1e-7), $"gradient of {name} differs beyond float rounding");
            }
        }
    }

    [Fact]
    public void StatisticsReachTheJsonlLogAndTheMetrics()
    {
        var recorded = new Dictionary<string, double>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) => { if (instrument.Meter.Name == PpoTelemetry.MeterName && instrument.Name.StartsWith("cai.ppo.", StringComparison.Ordinal)) l.EnableMeasurementEvents(instrument); };
        listener.SetMeasurementEventCallback<double>((instrument, value, _, _) => { lock (recorded) recorded[instrument.Name] = value; });
        listener.Start();

        var roles = Roles();
        var logPath = Path.Combine(TempDir("log"), "ppo.jsonl");
        var reported = new List<PpoStepStats>();
        using (var log = new PpoJsonlLog(logPath))
            new PpoTrainer(roles.Policy, roles.Reference, roles.Value, new TokenFractionReward(TargetToken), ToyOptions with { Iterations = 2 })
                .Train(Prompts(), TempDir("logged"), new SyncProgress<PpoStepStats>(s => { reported.Add(s); log.Report(s); }));

        var read = PpoJsonlLog.Read(logPath);
        Assert.Equal(reported, read);
        Assert.Contains("\"mean_reward\"", File.ReadAllLines(logPath)[0]);
        lock (recorded)
        {
            foreach (var name in new[] { "cai.ppo.reward", "cai.ppo.kl", "cai.ppo.entropy", "cai.ppo.clip_fraction", "cai.ppo.value_loss", "cai.ppo.response_length", "cai.ppo.kl_coef" })
                Assert.True(recorded.ContainsKey(name), $"{name} was not recorded");
            Assert.Equal(reported[^1].MeanReward, recorded["cai.ppo.reward"]);
            Assert.Equal(ToyOptions.MaxNewTokens, recorded["cai.ppo.response_length"]);
        }
    }
}
