using Cai.Core.Metrics;

namespace Cai.Core.Tests;

public class MetricsTests
{
    [Fact]
    public void Accuracy_of_outcomes_and_of_two_choice_probabilities()
    {
        Assert.Equal(0.75, Proportions.Accuracy([true, true, false, true]));
        Assert.Equal(0.625, Proportions.Accuracy([0.9, 0.2, 0.5, 0.51]));   // 1 + 0 + 1/2 + 1
        Assert.Throws<ArgumentException>(() => Proportions.Accuracy(Array.Empty<bool>()));
    }

    [Fact]
    public void Wilson_interval_matches_hand_computation()
    {
        // 8 of 10 at z = 1.96: centre (0.8 + 0.19208) / 1.38416, half-width 1.96 * sqrt(0.016 + 0.009604) / 1.38416.
        var (low, high) = Proportions.WilsonInterval(8, 10);
        Assert.Equal(0.4902, low, 4);
        Assert.Equal(0.9433, high, 4);

        var (zeroLow, zeroHigh) = Proportions.WilsonInterval(0, 20);
        Assert.Equal(0, zeroLow, 12);
        Assert.Equal(0.1611, zeroHigh, 4);
        Assert.Throws<ArgumentOutOfRangeException>(() => Proportions.WilsonInterval(3, 2));
    }

    [Fact]
    public void Calibration_bins_and_expected_calibration_error()
    {
        // Bin [0.2, 0.3): predictions 0.2, 0.2, one event -> |0.2 - 0.5| = 0.3, weight 2/5.
        // Bin [0.9, 1.0]: predictions 0.9, 0.9, 1.0, all events -> |0.9333 - 1| = 0.0667, weight 3/5.
        var report = Calibration.Compute([0.2, 0.2, 0.9, 0.9, 1.0], [true, false, true, true, true]);

        Assert.Equal(10, report.Bins.Count);
        Assert.Equal(5, report.Count);
        Assert.Equal(0.4 * 0.3 + 0.6 * (1 - 2.8 / 3), report.ExpectedCalibrationError, 12);
        Assert.Equal(2, report.Bins[2].Count);
        Assert.Equal(0.5, report.Bins[2].ObservedFrequency);
        Assert.Equal(3, report.Bins[9].Count);
        Assert.Null(report.Bins[5].MeanPredicted);
        Assert.Equal(0.5, report.Bins[5].Lower, 12);
    }

    [Fact]
    public void Perfectly_calibrated_predictions_have_zero_error()
    {
        var predicted = Enumerable.Repeat(0.25, 4).Concat(Enumerable.Repeat(0.75, 4)).ToArray();
        bool[] outcomes = [true, false, false, false, true, true, true, false];
        Assert.Equal(0, Calibration.Compute(predicted, outcomes, 4).ExpectedCalibrationError, 12);
        Assert.Throws<ArgumentException>(() => Calibration.Compute([0.5], [true, false]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Calibration.Compute([1.5], [true]));
    }

    [Fact]
    public void Elo_fit_recovers_the_rating_gap_from_a_win_rate()
    {
        // A beats B 3 times in 4: P = 0.75, so the maximum-likelihood gap is 400 * log10(3).
        var results = new[] { ("A", "B", 1.0), ("A", "B", 1.0), ("A", "B", 1.0), ("A", "B", 0.0) }
            .Select(r => new PairwiseResult(r.Item1, r.Item2, r.Item3));

        var ratings = EloRatings.Fit(results, priorGames: 0);

        Assert.Equal(400 * Math.Log10(3), ratings["A"] - ratings["B"], 6);
        Assert.Equal(0, ratings["A"] + ratings["B"], 6);
        Assert.Equal(0.75, EloRatings.WinProbability(ratings["A"], ratings["B"]), 6);
    }

    [Fact]
    public void Elo_fit_orders_three_players_ties_count_half_and_anchor_shifts()
    {
        var results = new List<PairwiseResult>();
        for (int i = 0; i < 10; i++)
        {
            results.Add(new("sl-cai", "helpful-only", i < 7 ? 1 : 0));
            results.Add(new("rl-cai", "sl-cai", i < 6 ? 1 : 0.5));
            results.Add(new("rl-cai", "helpful-only", i < 8 ? 1 : 0));
        }

        var ratings = EloRatings.Fit(results, anchor: "helpful-only");

        Assert.Equal(0, ratings["helpful-only"], 12);
        Assert.True(ratings["rl-cai"] > ratings["sl-cai"]);
        Assert.True(ratings["sl-cai"] > 0);
    }

    [Fact]
    public void Undefeated_player_needs_the_prior()
    {
        var results = new[] { new PairwiseResult("A", "B", 1), new PairwiseResult("A", "B", 1) };
        Assert.Throws<InvalidOperationException>(() => EloRatings.Fit(results, priorGames: 0));

        var ratings = EloRatings.Fit(results, priorGames: 1);
        Assert.True(double.IsFinite(ratings["A"]) && ratings["A"] > ratings["B"]);
    }
}
