namespace Cai.World.Tests;

public sealed class HelpfulnessComparisonTests(SmallWorldFixture fixture) : IClassFixture<SmallWorldFixture>
{
    [Fact]
    public void Helpfulness_comparisons_come_from_benign_train_prompts_and_prefer_the_reference_answer()
    {
        var comparisons = fixture.World.HelpfulnessComparisons(200, seed: 3);
        Assert.Equal(200, comparisons.Count);
        Assert.All(comparisons, c =>
        {
            var prompt = fixture.World.GetPrompt(c.PromptId);
            Assert.Equal(PromptKind.Benign, prompt.Kind);
            Assert.Equal(PromptSplit.Train, prompt.Split);
            Assert.Equal(prompt.Dialogue, c.Prompt);
            Assert.NotEqual(c.Chosen, c.Rejected);
        });
        // Both kinds of worse answer appear: a bare refusal and another prompt's answer.
        Assert.Contains(comparisons, c => RequestGenerator.GenericRefusals.Contains(c.Rejected));
        Assert.Contains(comparisons, c => !RequestGenerator.GenericRefusals.Contains(c.Rejected));
        Assert.Equal(comparisons, fixture.World.HelpfulnessComparisons(200, seed: 3));
        Assert.Empty(fixture.World.HelpfulnessComparisons(0, seed: 3));
    }
}
