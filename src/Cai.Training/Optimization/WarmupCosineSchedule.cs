namespace Cai.Training.Optimization;

/// <summary>
/// The learning-rate schedule every stage uses: a linear warmup from zero to the peak rate over the
/// first <see cref="WarmupSteps"/> optimizer steps, then a half-cosine decay from the peak down to
/// <c>peak x MinRatio</c> at the last step. Warmup keeps AdamW's early, badly estimated second
/// moments from taking large steps; the decay lets fine-tuning settle.
/// </summary>
public sealed record WarmupCosineSchedule
{
    /// <param name="peakLearningRate">Rate reached at the end of warmup.</param>
    /// <param name="warmupSteps">Optimizer steps of linear warmup (0: start at the peak).</param>
    /// <param name="totalSteps">Optimizer steps of the whole run.</param>
    /// <param name="minRatio">Final rate as a fraction of the peak, in [0, 1].</param>
    public WarmupCosineSchedule(double peakLearningRate, int warmupSteps, int totalSteps, double minRatio = 0.1)
    {
        if (!(peakLearningRate > 0)) throw new ArgumentOutOfRangeException(nameof(peakLearningRate), peakLearningRate, "The peak learning rate must be > 0.");
        ArgumentOutOfRangeException.ThrowIfNegative(warmupSteps);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(totalSteps);
        if (!(minRatio >= 0 && minRatio <= 1)) throw new ArgumentOutOfRangeException(nameof(minRatio), minRatio, "minRatio must be in [0, 1].");
        PeakLearningRate = peakLearningRate;
        WarmupSteps = warmupSteps;
        TotalSteps = totalSteps;
        MinRatio = minRatio;
    }

    public double PeakLearningRate { get; }
    public int WarmupSteps { get; }
    public int TotalSteps { get; }
    public double MinRatio { get; }

    /// <summary>The rate used by optimizer step <paramref name="step"/> (0-based).</summary>
    public double At(int step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        // Step s of warmup uses (s + 1) / warmup of the peak, so the first step already moves the weights.
        if (step < WarmupSteps) return PeakLearningRate * (step + 1) / WarmupSteps;
        int decaySteps = TotalSteps - WarmupSteps;
        if (decaySteps <= 1) return PeakLearningRate;
        double progress = Math.Min(1.0, (double)(step - WarmupSteps) / (decaySteps - 1));
        double cosine = 0.5 * (1 + Math.Cos(Math.PI * progress));
        return PeakLearningRate * (MinRatio + (1 - MinRatio) * cosine);
    }
}
