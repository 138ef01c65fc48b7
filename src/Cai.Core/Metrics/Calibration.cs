namespace Cai.Core.Metrics;

/// <summary>
/// One bin of a reliability diagram: predictions in [<paramref name="Lower"/>, <paramref name="Upper"/>), their mean
/// and the observed frequency of the event. Means are null for an empty bin.
/// </summary>
public sealed record ReliabilityBin(double Lower, double Upper, int Count, double? MeanPredicted, double? ObservedFrequency);

/// <summary>Expected calibration error and the reliability-diagram bins it was computed from.</summary>
public sealed record CalibrationReport(double ExpectedCalibrationError, int Count, IReadOnlyList<ReliabilityBin> Bins);

/// <summary>
/// Calibration of probabilistic predictions, as the paper reports for preference models: are comparisons given
/// probability p actually right a fraction p of the time?
/// </summary>
public static class Calibration
{
    /// <summary>
    /// Bins predictions into <paramref name="binCount"/> equal-width bins on [0, 1] (the last includes 1) and returns
    /// ECE = sum over bins of (bin count / total) x |mean prediction - observed frequency|.
    /// </summary>
    /// <param name="predicted">Predicted probabilities of the event (e.g. "response A is better"), each in [0, 1].</param>
    /// <param name="outcomes">Whether the event happened, one per prediction.</param>
    /// <param name="binCount">Number of bins (10 is usual).</param>
    public static CalibrationReport Compute(IReadOnlyList<double> predicted, IReadOnlyList<bool> outcomes, int binCount = 10)
    {
        ArgumentNullException.ThrowIfNull(predicted);
        ArgumentNullException.ThrowIfNull(outcomes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(binCount);
        if (predicted.Count != outcomes.Count)
        {
            throw new ArgumentException($"{predicted.Count} predictions but {outcomes.Count} outcomes", nameof(outcomes));
        }

        if (predicted.Count == 0)
        {
            throw new ArgumentException("calibration of zero predictions is undefined", nameof(predicted));
        }

        var counts = new int[binCount];
        var sumPredicted = new double[binCount];
        var sumOutcome = new double[binCount];
        for (int i = 0; i < predicted.Count; i++)
        {
            double p = predicted[i];
            if (!(p >= 0 && p <= 1))
            {
                throw new ArgumentOutOfRangeException(nameof(predicted), p, $"prediction {i} is not a probability");
            }

            int bin = Math.Min((int)(p * binCount), binCount - 1);
            counts[bin]++;
            sumPredicted[bin] += p;
            sumOutcome[bin] += outcomes[i] ? 1 : 0;
        }

        double ece = 0;
        var bins = new ReliabilityBin[binCount];
        for (int b = 0; b < binCount; b++)
        {
            double? meanPredicted = counts[b] > 0 ? sumPredicted[b] / counts[b] : null;
            double? frequency = counts[b] > 0 ? sumOutcome[b] / counts[b] : null;
            bins[b] = new ReliabilityBin((double)b / binCount, (double)(b + 1) / binCount, counts[b], meanPredicted, frequency);
            if (counts[b] > 0)
            {
                ece += (double)counts[b] / predicted.Count * Math.Abs(meanPredicted!.Value - frequency!.Value);
            }
        }

        return new CalibrationReport(ece, predicted.Count, bins);
    }
}
