using Cai.Core.Feedback;

namespace Cai.Core.Tests;

public class SoftLabelTests
{
    [Fact]
    public void Softmax_over_option_log_probs()
    {
        // log p(A) = ln 0.3 and log p(B) = ln 0.1 (the rest of the mass went to other tokens): A gets 0.75.
        var p = SoftLabels.FromLogProbs([Math.Log(0.3), Math.Log(0.1)]);
        Assert.Equal(0.75, p[0], 12);
        Assert.Equal(0.25, p[1], 12);

        var three = SoftLabels.FromLogProbs([-1000, -1000 + Math.Log(2), -1000 + Math.Log(5)]);
        Assert.Equal([0.125, 0.25, 0.625], three.Select(x => Math.Round(x, 12)));
    }

    [Fact]
    public void Softmax_refuses_invalid_input()
    {
        Assert.Throws<ArgumentException>(() => SoftLabels.FromLogProbs([]));
        Assert.Throws<ArgumentException>(() => SoftLabels.FromLogProbs([double.NaN, 0]));
        Assert.Throws<ArgumentException>(() => SoftLabels.FromLogProbs([double.NegativeInfinity, double.NegativeInfinity]));
    }

    [Fact]
    public void Averaging_both_orders_cancels_a_planted_position_bias()
    {
        // A judge that truly prefers response 0 with probability 0.7 but adds +1 nat to whichever option is shown first.
        double[] truePreference = [0.7, 0.3];
        double[] Judge(int[] order) => SoftLabels.FromLogProbs(
            [.. order.Select((original, position) => Math.Log(truePreference[original]) + (position == 0 ? 1.0 : 0.0))]);

        var identity = SoftLabels.Rotation(2, 0);
        var swapped = SoftLabels.Rotation(2, 1);
        var first = SoftLabels.ToOriginalOrder(Judge(identity), identity);
        var second = SoftLabels.ToOriginalOrder(Judge(swapped), swapped);
        var averaged = SoftLabels.Average([first, second]);

        Assert.Equal([1, 0], swapped);
        Assert.True(first[0] > 0.85);            // biased towards the first position
        Assert.True(second[0] < 0.55);           // biased the other way once swapped
        Assert.True(Math.Abs(averaged[0] - 0.7) < Math.Abs(first[0] - 0.7));
        Assert.Equal(1.0, averaged.Sum(), 12);
        // With a position bias and no preference, averaging both orders gives exactly 1/2.
        truePreference = [0.5, 0.5];
        var neutral = SoftLabels.Average([
            SoftLabels.ToOriginalOrder(Judge(identity), identity), SoftLabels.ToOriginalOrder(Judge(swapped), swapped)]);
        Assert.Equal(0.5, neutral[0], 12);
    }

    [Fact]
    public void Rotations_put_each_option_at_each_position_once()
    {
        var orders = Enumerable.Range(0, 3).Select(s => SoftLabels.Rotation(3, s)).ToArray();
        for (int position = 0; position < 3; position++)
        {
            Assert.Equal([0, 1, 2], orders.Select(o => o[position]).Order());
        }

        Assert.Equal([0.2, 0.5, 0.3], SoftLabels.ToOriginalOrder([0.5, 0.3, 0.2], [1, 2, 0]));
        Assert.Throws<ArgumentException>(() => SoftLabels.ToOriginalOrder([0.5, 0.5], [0, 0]));
    }

    [Fact]
    public void Clamp_bounds_chain_of_thought_probabilities()
    {
        Assert.Equal([0.6, 0.4], SoftLabels.Clamp([0.99, 0.01]).Select(x => Math.Round(x, 12)));
        Assert.Equal([0.4, 0.6], SoftLabels.Clamp([0.0, 1.0]).Select(x => Math.Round(x, 12)));
        Assert.Equal([0.55, 0.45], SoftLabels.Clamp([0.55, 0.45]).Select(x => Math.Round(x, 12)));
        Assert.Equal([0.8, 0.2], SoftLabels.Clamp([0.95, 0.05], 0.2, 0.8).Select(x => Math.Round(x, 12)));
        Assert.Throws<ArgumentOutOfRangeException>(() => SoftLabels.Clamp([0.5, 0.5], 0.7, 0.3));
    }

    [Fact]
    public void Ensemble_average_over_principles()
    {
        var average = SoftLabels.Average([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7]]);
        Assert.Equal(0.6, average[0], 12);
        Assert.Equal(0.4, average[1], 12);
        Assert.Throws<ArgumentException>(() => SoftLabels.Average([]));
        Assert.Throws<ArgumentException>(() => SoftLabels.Average([[0.5, 0.5], [1.0, 0, 0]]));
    }
}
