using Cai.Training.Data;
using Cai.Training.Optimization;
using Cai.Training.Sft;

namespace Cai.Training.Tests;

public class ScheduleAndDataTests
{
    [Fact]
    public void Warmup_rises_linearly_to_the_peak()
    {
        var s = new WarmupCosineSchedule(1e-3, warmupSteps: 4, totalSteps: 20, minRatio: 0.1);
        Assert.Equal(0.25e-3, s.At(0), 12);
        Assert.Equal(0.50e-3, s.At(1), 12);
        Assert.Equal(0.75e-3, s.At(2), 12);
        Assert.Equal(1.00e-3, s.At(3), 12);
    }

    [Fact]
    public void Cosine_decays_from_the_peak_to_the_floor()
    {
        var s = new WarmupCosineSchedule(1e-3, warmupSteps: 4, totalSteps: 21, minRatio: 0.1);
        // 17 decay steps: progress 0 at step 4, 0.5 at step 12, 1 at step 20.
        Assert.Equal(1e-3, s.At(4), 12);
        Assert.Equal(1e-3 * (0.1 + 0.9 * 0.5), s.At(12), 12);
        Assert.Equal(1e-4, s.At(20), 12);
        Assert.Equal(1e-3 * (0.1 + 0.9 * 0.5 * (1 + Math.Cos(Math.PI * 0.25))), s.At(8), 12);
        for (int step = 5; step <= 20; step++) Assert.True(s.At(step) < s.At(step - 1), $"not decreasing at {step}");
        Assert.Equal(1e-4, s.At(100), 12); // past the end it stays at the floor
    }

    [Fact]
    public void No_warmup_starts_at_the_peak()
    {
        var s = new WarmupCosineSchedule(2e-4, warmupSteps: 0, totalSteps: 10, minRatio: 0);
        Assert.Equal(2e-4, s.At(0), 12);
        Assert.Equal(0, s.At(9), 12);
        Assert.Throws<ArgumentOutOfRangeException>(() => new WarmupCosineSchedule(0, 0, 10));
    }

    [Fact]
    public void Each_epoch_sees_every_example_once_in_a_seeded_order()
    {
        var order = new DataOrder(exampleCount: 10, batchSize: 3, accumulationSteps: 2, epochs: 2, seed: 5);
        Assert.Equal(4, order.MicroBatchesPerEpoch);
        Assert.Equal(2, order.StepsPerEpoch);
        Assert.Equal(4, order.TotalSteps);
        for (int epoch = 0; epoch < 2; epoch++)
        {
            var seen = Enumerable.Range(epoch * 2, 2).SelectMany(step => order.MicroBatches(step)).SelectMany(b => b).ToList();
            Assert.Equal(Enumerable.Range(0, 10), seen.Order());
        }
        Assert.NotEqual(order.Permutation(0), order.Permutation(1));
        var again = new DataOrder(10, 3, 2, 2, seed: 5);
        Assert.Equal(order.MicroBatches(3), again.MicroBatches(3));
        Assert.NotEqual(order.Permutation(0), new DataOrder(10, 3, 2, 2, seed: 6).Permutation(0));
        Assert.Equal(6, order.ExampleCursor(1));
        Assert.Equal(0, order.ExampleCursor(2));
    }

    [Fact]
    public void Helpful_examples_are_mixed_in_at_the_ratio()
    {
        var main = Enumerable.Range(0, 10).ToList();
        var helpful = Enumerable.Range(100, 50).ToList();
        var mixed = TrainingMix.Combine(main, helpful, 0.5, seed: 3);
        Assert.Equal(15, mixed.Count);
        Assert.Equal(main, mixed.Take(10));
        Assert.Equal(5, mixed.Skip(10).Distinct().Count(x => x >= 100));
        Assert.Equal(mixed, TrainingMix.Combine(main, helpful, 0.5, seed: 3));
        Assert.Equal(60, TrainingMix.Combine(main, helpful, 10, seed: 3).Count); // capped by what is available
    }

    [Fact]
    public void A_seeded_fraction_is_held_out()
    {
        var items = Enumerable.Range(0, 20).ToList();
        var (train, heldOut) = TrainingMix.HoldOut(items, 0.25, seed: 8);
        Assert.Equal(5, heldOut.Count);
        Assert.Equal(items, train.Concat(heldOut).Order());
        Assert.Equal(heldOut, TrainingMix.HoldOut(items, 0.25, seed: 8).HeldOut);
        Assert.NotEqual(heldOut, TrainingMix.HoldOut(items, 0.25, seed: 9).HeldOut);
        Assert.Throws<ArgumentOutOfRangeException>(() => TrainingMix.HoldOut(items, 1.0, seed: 8));
    }

    [Fact]
    public void Invalid_options_are_refused_naming_the_property()
    {
        var e = Assert.Throws<ArgumentException>(() => new SftOptions { BatchSize = 0, MaxGradNorm = -1 }.ThrowIfInvalid());
        Assert.Contains("BatchSize", e.Message);
        Assert.Contains("MaxGradNorm", e.Message);
        Assert.Contains("HelpfulMixRatio", Assert.Throws<ArgumentException>(() => new SftOptions { HelpfulMixRatio = -1 }.ThrowIfInvalid()).Message);
    }
}
