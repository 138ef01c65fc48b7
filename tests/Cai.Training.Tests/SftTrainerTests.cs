using Cai.Modeling;
using Cai.Training.Sft;
using Xunit.Abstractions;
using static Cai.Training.Tests.TestSupport;
using static TorchSharp.torch;

namespace Cai.Training.Tests;

public class SftTrainerTests(ITestOutputHelper output)
{
    private static readonly SftExample[] Memorise =
    [
        new(Ask("Say hi."), "Hi there!"),
        new(Ask("Count to three."), "1 2 3"),
        new(Ask("Name a colour."), "Blue."),
        new(Ask("Is fire hot?"), "Yes, it is."),
    ];

    [Fact]
    public void Prompt_tokens_are_masked_and_get_no_gradient()
    {
        using var tokenizer = Tokenizer();
        using var model = new LlamaForCausalLM(Tiny());
        var trainer = new SftTrainer(model, tokenizer, new SftOptions());
        var a = trainer.Encode(Memorise[0]);
        var b = trainer.Encode(Memorise[3]);
        // Prompt "<s>\n\nHuman: Say hi.\n\nAssistant:" then " Hi there!" then EOS.
        Assert.Equal(1, a.InputIds[0]);
        Assert.Equal(tokenizer.Encode(Memorise[0].Prompt.RenderPrompt()).Length, a.PromptLength);
        Assert.Equal(" Hi there!".Length + 1, a.InputIds.Length - a.PromptLength);
        Assert.Equal(2, a.InputIds[^1]);

        var (ids, labels, tokens) = ResponseTokenLoss.Collate([a, b], padId: 0);
        Assert.Equal(a.InputIds.Length + b.InputIds.Length, tokens);
        var l = labels.data<long>().ToArray();
        var x = ids.data<long>().ToArray();
        int width = (int)labels.shape[1];
        foreach (var (seq, row) in new[] { (a, 0), (b, 1) })
        {
            for (int t = 0; t < width; t++)
            {
                long expected = t >= seq.PromptLength && t < seq.InputIds.Length ? seq.InputIds[t] : ResponseTokenLoss.IgnoreIndex;
                Assert.Equal(expected, l[row * width + t]);
                if (t < seq.InputIds.Length) Assert.Equal(seq.InputIds[t], x[row * width + t]);
            }
        }

        // Logits at positions whose next token is prompt or padding receive exactly zero gradient.
        var logits = randn(2, width, 100).requires_grad_();
        ResponseTokenLoss.Compute(logits, labels).backward();
        var g = logits.grad!.abs().sum(-1).data<float>().ToArray();
        for (int row = 0; row < 2; row++)
        {
            for (int t = 0; t < width - 1; t++)
            {
                bool trained = l[row * width + t + 1] != ResponseTokenLoss.IgnoreIndex;
                Assert.True(trained ? g[row * width + t] > 0 : g[row * width + t] == 0, $"row {row} position {t}: gradient {g[row * width + t]}, trained {trained}");
            }
            Assert.Equal(0f, g[row * width + width - 1]); // the last position predicts nothing
        }
    }

    [Fact]
    public void Long_pairs_keep_the_end_of_the_prompt_and_the_start_of_the_response()
    {
        using var tokenizer = Tokenizer();
        using var model = new LlamaForCausalLM(Tiny());
        var trainer = new SftTrainer(model, tokenizer, new SftOptions { ContextLength = 40 });
        var seq = trainer.Encode(new SftExample(Ask(new string('q', 100)), new string('r', 100)));
        Assert.Equal(40, seq.InputIds.Length);
        Assert.Equal(20, seq.PromptLength);
        Assert.Equal(tokenizer.Encode("\n\nAssistant:", addSpecialTokens: false), seq.InputIds[8..20]);
        Assert.Equal(tokenizer.Encode(" rrr", addSpecialTokens: false), seq.InputIds[20..24]);
    }

    [Fact]
    public void Loss_falls_on_a_memorisation_task_and_the_model_is_saved_in_HF_layout()
    {
        using var tokenizer = Tokenizer();
        using var model = new LlamaForCausalLM(Tiny(), seed: 3);
        var options = new SftOptions { Epochs = 60, BatchSize = 4, LearningRate = 1e-2, WarmupSteps = 5, CheckpointEvery = 0, WeightDecay = 0 };
        var trainer = new SftTrainer(model, tokenizer, options, TokenizerDirectory);
        var seen = new List<TrainingProgress>();
        var dir = TempDir("sft-memorise");
        var result = trainer.Train(Memorise, dir, new SyncProgress<TrainingProgress>(seen.Add));

        Assert.Equal(60, result.Steps);
        Assert.Equal(Enumerable.Range(1, 60), seen.Select(p => p.Step));
        double first = seen[0].Loss, last = seen[^1].Loss;
        output.WriteLine($"loss {first:F3} -> {last:F3}; {result.TokensPerSecond:F0} tokens/s (tiny model, f32)");
        Assert.True(first > 3.5, $"initial loss {first} should be near ln(100)");
        Assert.True(last < 0.5, $"final loss {last} should show memorisation");
        Assert.True(seen.All(p => p.TokensPerSecond > 0 && p.LearningRate > 0));

        foreach (var f in new[] { "config.json", "model.safetensors", "tokenizer.json", TrainingState.FileName })
            Assert.True(File.Exists(Path.Combine(dir, f)), $"{f} missing");
        using var reloaded = Checkpoint.LoadCausalLM(dir);
        AssertIdenticalWeights(model, reloaded);
    }

    [Fact]
    public void Bf16_compute_trains_the_float32_master_weights()
    {
        using var tokenizer = Tokenizer();
        using var model = new LlamaForCausalLM(Tiny(), seed: 3);
        var options = new SftOptions { Epochs = 30, BatchSize = 2, GradientAccumulationSteps = 2, LearningRate = 1e-2, WarmupSteps = 3, CheckpointEvery = 0, ComputeDtype = ScalarType.BFloat16 };
        var seen = new List<TrainingProgress>();
        var result = new SftTrainer(model, tokenizer, options).Train(Memorise, TempDir("sft-bf16"), new SyncProgress<TrainingProgress>(seen.Add));
        output.WriteLine($"bf16: loss {seen[0].Loss:F3} -> {seen[^1].Loss:F3}; {result.TokensPerSecond:F0} tokens/s");
        Assert.All(model.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
        Assert.True(seen[^1].Loss < seen[0].Loss / 2, $"bf16 loss {seen[0].Loss} -> {seen[^1].Loss}");
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    public void A_resumed_run_ends_bit_identical_to_an_uninterrupted_one(ScalarType compute)
    {
        using var tokenizer = Tokenizer();
        var examples = Memorise.Concat(Memorise.Select(e => e with { Response = e.Response + " Ok." })).ToList();
        var options = new SftOptions
        {
            Epochs = 2, BatchSize = 2, GradientAccumulationSteps = 2, LearningRate = 5e-3, WarmupSteps = 2,
            CheckpointEvery = 2, KeepCheckpoints = 1, ComputeDtype = compute,
        }; // 8 examples: 2 steps per epoch, 4 steps

        using var straight = new LlamaForCausalLM(Tiny(), seed: 11);
        var straightResult = new SftTrainer(straight, tokenizer, options).Train(examples, TempDir("sft-straight"));
        Assert.Null(straightResult.ResumedFromStep);

        var dir = TempDir("sft-resumed");
        using var interrupted = new LlamaForCausalLM(Tiny(), seed: 11);
        using var cts = new CancellationTokenSource();
        var stopAfter3 = new SyncProgress<TrainingProgress>(p => { if (p.Step == 3) cts.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() => new SftTrainer(interrupted, tokenizer, options).Train(examples, dir, stopAfter3, cts.Token));
        Assert.Equal([2], TrainingState.Checkpoints(dir).Select(c => c.Step));

        // A fresh process: different initial weights, everything must come from checkpoint-2.
        using var resumed = new LlamaForCausalLM(Tiny(), seed: 99);
        var steps = new List<int>();
        var result = new SftTrainer(resumed, tokenizer, options).Train(examples, dir, new SyncProgress<TrainingProgress>(p => steps.Add(p.Step)));
        Assert.Equal(2, result.ResumedFromStep);
        Assert.Equal([3, 4], steps);
        AssertIdenticalWeights(straight, resumed);
    }

    [Fact]
    public void Resuming_with_different_data_is_refused()
    {
        using var tokenizer = Tokenizer();
        var options = new SftOptions { Epochs = 2, BatchSize = 2, CheckpointEvery = 1 };
        var dir = TempDir("sft-refused");
        using var cts = new CancellationTokenSource();
        using var model = new LlamaForCausalLM(Tiny());
        Assert.ThrowsAny<OperationCanceledException>(() => new SftTrainer(model, tokenizer, options)
            .Train(Memorise, dir, new SyncProgress<TrainingProgress>(_ => cts.Cancel()), cts.Token));
        var other = Memorise.Select(e => e with { Response = "Something else." }).ToList();
        var e = Assert.Throws<InvalidOperationException>(() => new SftTrainer(model, tokenizer, options).Train(other, dir));
        Assert.Contains("data_fingerprint", e.Message);
        var fresh = Assert.Throws<InvalidOperationException>(() => new SftTrainer(model, tokenizer, options with { ResumeFromCheckpoint = false }).Train(Memorise, dir));
        Assert.Contains("checkpoint-1", fresh.Message);
    }
}
