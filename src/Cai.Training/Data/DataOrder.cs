using Cai.Core.Generation;

namespace Cai.Training.Data;

/// <summary>
/// Which examples each optimizer step sees. Every epoch is a fresh permutation of the examples drawn
/// from (seed, epoch) alone, cut into micro-batches of <see cref="BatchSize"/> (the last may be
/// short), grouped <see cref="AccumulationSteps"/> at a time into optimizer steps. Because the order
/// is a pure function of (seed, step), the data cursor of a resumed run is just its step number.
/// </summary>
public sealed class DataOrder
{
    /// <summary>The <see cref="DeterministicRandom.ForItem"/> stream name of the shuffles.</summary>
    public const string RandomStream = "training-data-order";

    private int _cachedEpoch = -1;
    private int[] _cachedPermutation = [];

    public DataOrder(int exampleCount, int batchSize, int accumulationSteps, int epochs, ulong seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(exampleCount);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(accumulationSteps);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(epochs);
        ExampleCount = exampleCount;
        BatchSize = batchSize;
        AccumulationSteps = accumulationSteps;
        Epochs = epochs;
        Seed = seed;
        MicroBatchesPerEpoch = (exampleCount + batchSize - 1) / batchSize;
        StepsPerEpoch = (MicroBatchesPerEpoch + accumulationSteps - 1) / accumulationSteps;
    }

    public int ExampleCount { get; }
    public int BatchSize { get; }
    public int AccumulationSteps { get; }
    public int Epochs { get; }
    public ulong Seed { get; }
    public int MicroBatchesPerEpoch { get; }
    public int StepsPerEpoch { get; }
    public int TotalSteps => StepsPerEpoch * Epochs;

    /// <summary>The epoch of optimizer step <paramref name="step"/> (0-based).</summary>
    public int EpochOf(int step) => step / StepsPerEpoch;

    /// <summary>Position of the first example of <paramref name="step"/> within its epoch's permutation.</summary>
    public int ExampleCursor(int step) => Math.Min(ExampleCount, step % StepsPerEpoch * AccumulationSteps * BatchSize);

    /// <summary>The permutation of example indices for <paramref name="epoch"/>.</summary>
    public int[] Permutation(int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        if (epoch != _cachedEpoch)
        {
            var random = DeterministicRandom.ForItem(Seed, RandomStream, epoch.ToString(System.Globalization.CultureInfo.InvariantCulture));
            _cachedPermutation = random.SampleWithoutReplacement(ExampleCount, ExampleCount);
            _cachedEpoch = epoch;
        }
        return _cachedPermutation;
    }

    /// <summary>Example indices of each micro-batch of optimizer step <paramref name="step"/> (0-based).</summary>
    public IReadOnlyList<int[]> MicroBatches(int step)
    {
        if (step < 0 || step >= TotalSteps) throw new ArgumentOutOfRangeException(nameof(step), step, $"The run has {TotalSteps} steps.");
        var permutation = Permutation(EpochOf(step));
        int first = step % StepsPerEpoch * AccumulationSteps;
        int last = Math.Min(first + AccumulationSteps, MicroBatchesPerEpoch);
        var result = new List<int[]>(last - first);
        for (int m = first; m < last; m++)
        {
            int start = m * BatchSize;
            result.Add(permutation[start..Math.Min(start + BatchSize, ExampleCount)]);
        }
        return result;
    }
}
