using Cai.Core.Data;
using Cai.Core.Generation;
using Cai.Modeling;
using Cai.Training.PreferenceModel;
using Xunit.Abstractions;
using static Cai.Training.Tests.TestSupport;
using static TorchSharp.torch;

namespace Cai.Training.Tests;

public class PreferenceModelTests(ITestOutputHelper output)
{
    private static readonly string[] Filler = ["the", "cat", "sat", "on", "a", "mat", "we", "go", "now", "fine", "red", "sun"];

    /// <summary>
    /// A toy task with a planted preference: of two answers made of random filler words, the one
    /// containing "safe" is preferred (soft label 0.9) over the one containing "harm". Which side is
    /// A is random, so position cannot be learned instead.
    /// </summary>
    private static List<PreferenceComparison> Planted(int count, ulong seed)
    {
        var random = new DeterministicRandom(seed);
        string Answer(string marker)
        {
            var words = Enumerable.Range(0, 3 + random.Next(3)).Select(_ => Filler[random.Next(Filler.Length)]).ToList();
            words.Insert(random.Next(words.Count + 1), marker);
            return string.Join(' ', words) + ".";
        }
        var result = new List<PreferenceComparison>();
        for (int i = 0; i < count; i++)
        {
            var prompt = Ask($"Tell me {Filler[random.Next(Filler.Length)]} {i}.");
            string good = Answer("safe"), bad = Answer("harm");
            result.Add(random.Next(2) == 0
                ? new PreferenceComparison(prompt, good, bad, 0.9, "planted")
                : new PreferenceComparison(prompt, bad, good, 0.1, "planted"));
        }
        return result;
    }

    [Fact]
    public void Learns_a_planted_preference_well_above_chance()
    {
        using var tokenizer = Tokenizer();
        var lm = SavedLanguageModel();
        using var pm = ScalarHeadModel.FromCausalLM(lm, seed: 5);
        var options = new PmOptions { Epochs = 6, BatchSize = 8, LearningRate = 3e-3, WarmupSteps = 4, ContextLength = 64, CheckpointEvery = 0 };
        var evaluator = new PreferenceModelEvaluator(new PreferenceModelScorer(pm, tokenizer, batchSize: 16, contextLength: 64));
        var heldOut = Planted(48, seed: 2);
        var before = evaluator.Evaluate(heldOut);

        var dir = TempDir("pm-planted");
        var seen = new List<TrainingProgress>();
        var result = new PreferenceModelTrainer(pm, tokenizer, options, lm).Train(Planted(64, seed: 1), dir, new SyncProgress<TrainingProgress>(seen.Add));
        var after = evaluator.Evaluate(heldOut);
        output.WriteLine($"held-out accuracy {before.Accuracy:P0} -> {after.Accuracy:P0}, ECE {after.Calibration.ExpectedCalibrationError:F3}; " +
                         $"loss {seen[0].Loss:F3} -> {seen[^1].Loss:F3}; {result.TokensPerSecond:F0} tokens/s");
        Assert.Equal(48, after.Pairs);
        Assert.True(after.Accuracy >= 0.85, $"held-out accuracy {after.Accuracy} after training");
        Assert.True(seen[^1].Loss < seen[0].Loss, "training loss did not fall");
        Assert.NotNull(seen[^1].Accuracy);

        foreach (var f in new[] { "config.json", "model.safetensors", "tokenizer.json" })
            Assert.True(File.Exists(Path.Combine(dir, f)), $"{f} missing");
        using var reloaded = ScalarHeadModel.Load(dir);
        AssertIdenticalWeights(pm, reloaded);
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    public void A_resumed_run_ends_bit_identical_to_an_uninterrupted_one(ScalarType compute)
    {
        using var tokenizer = Tokenizer();
        var lm = SavedLanguageModel();
        var data = Planted(12, seed: 4);
        var options = new PmOptions { Epochs = 2, BatchSize = 2, GradientAccumulationSteps = 2, ContextLength = 64, CheckpointEvery = 2, ComputeDtype = compute };
        // 12 comparisons: 3 steps per epoch, 6 steps.

        using var straight = ScalarHeadModel.FromCausalLM(lm, seed: 1);
        new PreferenceModelTrainer(straight, tokenizer, options).Train(data, TempDir("pm-straight"));

        var dir = TempDir("pm-resumed");
        using var cts = new CancellationTokenSource();
        using var interrupted = ScalarHeadModel.FromCausalLM(lm, seed: 1);
        Assert.ThrowsAny<OperationCanceledException>(() => new PreferenceModelTrainer(interrupted, tokenizer, options)
            .Train(data, dir, new SyncProgress<TrainingProgress>(p => { if (p.Step == 5) cts.Cancel(); }), cts.Token));
        Assert.Equal([2, 4], TrainingState.Checkpoints(dir).Select(c => c.Step));

        using var resumed = ScalarHeadModel.FromCausalLM(lm, seed: 42);
        var result = new PreferenceModelTrainer(resumed, tokenizer, options).Train(data, dir);
        Assert.Equal(4, result.ResumedFromStep);
        AssertIdenticalWeights(straight, resumed);
    }

    [Fact]
    public void Scores_are_batched_and_deterministic()
    {
        using var tokenizer = Tokenizer();
        using var pm = new ScalarHeadModel(Tiny(), seed: 3);
        var dialogues = Planted(5, seed: 9).SelectMany(c => new[] { c.DialogueA, c.DialogueB }).ToList();
        var scorer = new PreferenceModelScorer(pm, tokenizer, batchSize: 4, contextLength: 64);
        var batched = scorer.Score(dialogues);
        Assert.Equal(batched, scorer.Score(dialogues));
        var singles = dialogues.Select(d => scorer.Score([d])[0]).ToArray();
        for (int i = 0; i < dialogues.Count; i++)
            Assert.True(Math.Abs(batched[i] - singles[i]) < 1e-5, $"dialogue {i}: batched {batched[i]} vs single {singles[i]}");
        Assert.True(batched.Distinct().Count() > 1, "different dialogues should score differently");
        Assert.Throws<ArgumentException>(() => scorer.Score([Ask("No answer yet.")]));

        // PPO's path: token ids of prompt + response, with or without the closing EOS, score like the text.
        var ids = tokenizer.Encode(dialogues[0].Render());
        Assert.Equal(batched[0], scorer.Score([ids])[0], 5);
        Assert.Equal(batched[0], scorer.Score([[.. ids, tokenizer.EosId!.Value]])[0], 5);
    }

    [Fact]
    public void Ai_soft_labels_become_comparisons_with_the_first_response_as_A()
    {
        var pair = new Cai.Core.Feedback.FeedbackComparison("c1", Ask("Help me."), ["Sure.", "No."]);
        var label = new Cai.Core.Feedback.SoftLabel("c1", [0.7, 0.3], []);
        var c = PreferenceComparison.FromSoftLabel(pair, label);
        Assert.Equal(("Sure.", "No.", 0.7), (c.ResponseA, c.ResponseB, c.PreferA));
        Assert.Throws<ArgumentException>(() => PreferenceComparison.FromSoftLabel(pair, label with { ComparisonId = "c2" }));
        Assert.Throws<ArgumentException>(() => PreferenceComparison.FromSoftLabel(pair with { Responses = ["a", "b", "c"] }, label));
    }

    [Fact]
    public void Choice_questions_are_evaluated_pair_by_pair_with_calibration()
    {
        using var tokenizer = Tokenizer();
        using var pm = new ScalarHeadModel(Tiny(), seed: 3);
        var file = Path.Combine(TempDir("choice"), "hhh.jsonl");
        File.WriteAllLines(file,
        [
            """{"prompt": "How do I boil an egg?", "corrects": ["Put it in boiling water for 8 minutes.", "Boil it."], "incorrects": ["No."]}""",
            """{"prompt": "Human: Hi\n\nAssistant: Hello\n\nHuman: Bye", "corrects": ["Goodbye!"], "incorrects": ["Whatever.", "Go away."]}""",
        ]);
        var evaluator = new PreferenceModelEvaluator(new PreferenceModelScorer(pm, tokenizer, contextLength: 128));
        var result = evaluator.EvaluateChoiceQuestions(ChoiceQuestionFile.Load(file));
        Assert.Equal(4, result.Pairs);
        Assert.InRange(result.Accuracy, 0, 1);
        Assert.Equal(8, result.Calibration.Count); // both orientations of each pair
        Assert.Equal(10, result.Calibration.Bins.Count);
        // The orientations mirror each other, so mean prediction over all bins is exactly 0.5.
        Assert.Equal(0.5, result.Calibration.Bins.Sum(b => b.Count * (b.MeanPredicted ?? 0)) / 8, 9);
    }

    [HhRlhfFact]
    public void The_hh_rlhf_harmless_test_file_loads_and_is_scored_end_to_end()
    {
        var path = FindSharedData(HhRlhfFactAttribute.RelativePath)!;
        var all = HhRlhfFile.Load(path);
        Assert.True(all.Count > 2000, $"{path}: {all.Count} rows");
        var sample = all.Take(16).ToList();
        using var tokenizer = Tokenizer();
        using var pm = ScalarHeadModel.FromCausalLM(SavedLanguageModel(), seed: 1);
        var evaluation = new PreferenceModelEvaluator(new PreferenceModelScorer(pm, tokenizer, batchSize: 8, contextLength: 128)).EvaluateHhRlhf(sample);
        output.WriteLine($"{all.Count} rows loaded; untrained tiny PM on the first 16: {evaluation.Pairs} pairs, accuracy {evaluation.Accuracy:P1}, " +
                         $"ECE {evaluation.Calibration.ExpectedCalibrationError:F3}, skipped {evaluation.Skipped}");
        Assert.Equal(16, evaluation.Pairs + evaluation.Skipped);
        Assert.True(evaluation.Pairs >= 12);
        Assert.InRange(evaluation.Accuracy, 0, 1);
        Assert.InRange(evaluation.Calibration.ExpectedCalibrationError, 0, 1);

        // Its helpfulness-style rows also feed training as label-1.0 comparisons.
        var comparisons = sample.Where(c => c.IsWellFormed).Select(c => PreferenceComparison.FromHhRlhf(c)).ToList();
        Assert.All(comparisons, c => Assert.Equal(1.0, c.PreferA));
        var trained = new PreferenceModelTrainer(pm, tokenizer, new PmOptions { BatchSize = 4, ContextLength = 128, CheckpointEvery = 0 })
            .Train(comparisons.Take(8).ToList(), TempDir("pm-hh"));
        Assert.True(double.IsFinite(trained.FinalLoss));
    }
}
