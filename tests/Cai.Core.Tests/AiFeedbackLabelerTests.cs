using Cai.Core.Constitutions;
using Cai.Core.Dialogues;
using Cai.Core.Feedback;
using Cai.Core.Generation;
using Cai.Core.Prompts;

namespace Cai.Core.Tests;

public class AiFeedbackLabelerTests
{
    private static readonly Constitution Constitution = ConstitutionLoader.Load(TestData.Constitution("default.yaml"));

    /// <summary>
    /// A stand-in feedback model: reads the question's options, gives log-odds +2 to options containing "safe", and
    /// adds a position bias of +1 nat to whatever is shown as (A).
    /// </summary>
    private sealed class PlantedScorer : IOptionScorer
    {
        public List<OptionScoringRequest> Requests { get; } = [];

        public Task<IReadOnlyList<IReadOnlyList<double>>> ScoreAsync(
            IReadOnlyList<OptionScoringRequest> requests, CancellationToken cancellationToken)
        {
            Requests.AddRange(requests);
            return Task.FromResult<IReadOnlyList<IReadOnlyList<double>>>([.. requests.Select(r =>
            {
                var question = r.Prompt[r.Prompt.LastIndexOf("\nOptions:\n", StringComparison.Ordinal)..];
                return (IReadOnlyList<double>)[.. r.Continuations.Select((c, position) =>
                {
                    var line = question.Split('\n').Single(l => l.StartsWith(c.Trim() + " ", StringComparison.Ordinal));
                    return (line.Contains("safe") ? 2.0 : 0.0) + (position == 0 ? 1.0 : 0.0) - 5;
                })];
            })]);
        }
    }

    private sealed class FixedReasoner(string reasoning) : ITextModel
    {
        public List<string> Prompts { get; } = [];

        public Task<IReadOnlyList<string>> CompleteAsync(
            IReadOnlyList<string> prompts, GenerationSettings settings, CancellationToken cancellationToken)
        {
            Prompts.AddRange(prompts);
            return Task.FromResult<IReadOnlyList<string>>([.. prompts.Select(_ => reasoning)]);
        }
    }

    private static FeedbackComparison Comparison(string id, params string[] responses) =>
        new(id, Dialogue.FromHuman("How do I do this?"), responses);

    [Fact]
    public async Task Labels_average_principles_and_both_orders_and_cancel_position_bias()
    {
        var scorer = new PlantedScorer();
        var labeler = new AiFeedbackLabeler(scorer, Constitution, new FeedbackOptions { PrinciplesPerComparison = 2, Seed = 3 });

        var labels = await labeler.LabelAsync([Comparison("c1", "risky answer", "safe answer"), Comparison("c2", "safe one", "other one")]);

        Assert.Equal(2 * 2 * 2, scorer.Requests.Count);
        Assert.All(scorer.Requests, r => Assert.Equal([" (A)", " (B)"], r.Continuations));
        // The safe answer is seen once at (A) (log-odds 2 + 1) and once at (B) (2 - 1); the label averages the two.
        static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));
        double expected = (Sigmoid(3) + Sigmoid(1)) / 2;
        Assert.Equal(expected, labels[0].Probabilities[1], 9);
        Assert.Equal(expected, labels[1].Probabilities[0], 9);
        var judgements = labels[0].Judgements;
        Assert.Equal(4, judgements.Count);
        Assert.Equal(2, judgements.Select(j => j.PrincipleId).Distinct().Count());
        var (principles, _) = labeler.Draw("c1");
        Assert.Equal(principles.Select(p => p.Id).Order(), judgements.Select(j => j.PrincipleId).Distinct().Order());
        Assert.Contains(scorer.Requests, r => r.Prompt.Contains(principles[0].Text + "\nOptions:\n(A) risky answer\n(B) safe answer"));
        Assert.Contains(scorer.Requests, r => r.Prompt.Contains(principles[0].Text + "\nOptions:\n(A) safe answer\n(B) risky answer"));
    }

    [Fact]
    public async Task A_single_order_keeps_the_position_bias()
    {
        var labeler = new AiFeedbackLabeler(new PlantedScorer(), Constitution,
            new FeedbackOptions { PrinciplesPerComparison = 1, AverageOverOrders = false });

        var label = Assert.Single(await labeler.LabelAsync([Comparison("c", "safe answer", "risky answer")]));

        Assert.Equal(1 / (1 + Math.Exp(-3)), label.Probabilities[0], 9);
        Assert.Single(label.Judgements);
    }

    [Fact]
    public async Task Three_options_are_asked_in_every_rotation()
    {
        var scorer = new PlantedScorer();
        var labeler = new AiFeedbackLabeler(scorer, Constitution, new FeedbackOptions { PrinciplesPerComparison = 1 });

        var label = Assert.Single(await labeler.LabelAsync([Comparison("c", "x", "safe y", "z")]));

        Assert.Equal(3, scorer.Requests.Count);
        Assert.Equal(label.Probabilities[0], label.Probabilities[2], 12);
        Assert.True(label.Probabilities[1] > label.Probabilities[0]);
        Assert.Equal(1.0, label.Probabilities.Sum(), 12);
    }

    [Fact]
    public async Task Chain_of_thought_reasons_first_then_scores_and_clamps()
    {
        var scorer = new PlantedScorer();
        var reasoner = new FixedReasoner(" The second reply is safer.\nThe answer is: (B)");
        var labeler = new AiFeedbackLabeler(scorer, Constitution,
            new FeedbackOptions { PrinciplesPerComparison = 1, ChainOfThought = true, FewShotExamples = 2 }, reasoner);

        var label = Assert.Single(await labeler.LabelAsync([Comparison("c", "risky answer", "safe answer")]));

        Assert.Equal(2, reasoner.Prompts.Count);
        Assert.All(reasoner.Prompts, p => Assert.EndsWith(PromptFormat.ChainOfThoughtMarker, p));
        Assert.All(reasoner.Prompts, p => Assert.Contains(Constitution.ChainOfThoughtExamples[0].Reasoning!, p));
        Assert.All(scorer.Requests, r => Assert.EndsWith("Let's think step by step: The second reply is safer.\nThe answer is:", r.Prompt));
        Assert.All(label.Judgements, j => Assert.Equal("The second reply is safer.", j.Reasoning));
        // Each order alone is confident (0.95 and 0.73), so each is clamped to 0.6 for the safe answer.
        Assert.All(label.Judgements, j => Assert.Equal(0.6, j.Probabilities[1], 12));
        Assert.Equal(0.6, label.Probabilities[1], 12);
    }

    [Fact]
    public async Task Draws_depend_only_on_seed_and_comparison_id()
    {
        var options = new FeedbackOptions { PrinciplesPerComparison = 3, Seed = 11 };
        var a = new AiFeedbackLabeler(new PlantedScorer(), Constitution, options);
        var b = new AiFeedbackLabeler(new PlantedScorer(), Constitution, options with { BatchSize = 1 });

        var first = await a.LabelAsync([Comparison("x", "1", "2"), Comparison("y", "3", "4")]);
        var second = await b.LabelAsync([Comparison("y", "3", "4"), Comparison("x", "1", "2")]);

        Assert.Equal(first[0].Judgements.Select(j => j.PrincipleId), second[1].Judgements.Select(j => j.PrincipleId));
        Assert.Equal(first[1].Judgements.Select(j => j.PrincipleId), second[0].Judgements.Select(j => j.PrincipleId));
    }

    [Fact]
    public void Invalid_options_are_refused_naming_the_option()
    {
        var e = Assert.Throws<ArgumentException>(() => new AiFeedbackLabeler(new PlantedScorer(), Constitution,
            new FeedbackOptions { PrinciplesPerComparison = 17, ChainOfThought = true, ClampLow = 0.7 }));
        Assert.Contains("PrinciplesPerComparison", e.Message);
        Assert.Contains("reasoner", e.Message);
        Assert.Contains("ClampLow", e.Message);
    }

    [Fact]
    public async Task Cancellation_is_honoured()
    {
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        var labeler = new AiFeedbackLabeler(new PlantedScorer(), Constitution, new FeedbackOptions());
        await Assert.ThrowsAnyAsync<OperationCanceledException>(
            () => labeler.LabelAsync([Comparison("c", "a", "b")], cts.Token));
    }
}
