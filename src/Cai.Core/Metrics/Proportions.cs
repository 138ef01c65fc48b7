namespace Cai.Core.Metrics;

/// <summary>Proportion metrics for evaluations: accuracy and the Wilson score interval.</summary>
public static class Proportions
{
    /// <summary>The fraction of true outcomes.</summary>
    /// <exception cref="ArgumentException">No outcomes.</exception>
    public static double Accuracy(IEnumerable<bool> correct)
    {
        ArgumentNullException.ThrowIfNull(correct);
        int n = 0, k = 0;
        foreach (var c in correct)
        {
            n++;
            k += c ? 1 : 0;
        }

        return n > 0 ? (double)k / n : throw new ArgumentException("accuracy of zero outcomes is undefined", nameof(correct));
    }

    /// <summary>
    /// Two-choice accuracy from the probability a model gives the correct answer (e.g. a PM's
    /// P(correct preferred over incorrect)): above 0.5 counts as right, exactly 0.5 counts as half.
    /// </summary>
    public static double Accuracy(IEnumerable<double> probabilityOfCorrect)
    {
        ArgumentNullException.ThrowIfNull(probabilityOfCorrect);
        int n = 0;
        double k = 0;
        foreach (var p in probabilityOfCorrect)
        {
            n++;
            k += p > 0.5 ? 1 : p == 0.5 ? 0.5 : 0;
        }

        return n > 0 ? k / n : throw new ArgumentException("accuracy of zero outcomes is undefined", nameof(probabilityOfCorrect));
    }

    /// <summary>
    /// The Wilson score interval for a proportion (default 95%, z = 1.96): better than the normal approximation
    /// for small samples and proportions near 0 or 1, e.g. a harmlessness rate over a few hundred prompts.
    /// </summary>
    public static (double Low, double High) WilsonInterval(int successes, int trials, double z = 1.96)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(trials);
        ArgumentOutOfRangeException.ThrowIfNegative(successes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(successes, trials);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(z);
        double p = (double)successes / trials;
        double z2 = z * z;
        double denominator = 1 + z2 / trials;
        double centre = (p + z2 / (2 * trials)) / denominator;
        double halfWidth = z * Math.Sqrt(p * (1 - p) / trials + z2 / (4.0 * trials * trials)) / denominator;
        return (Math.Max(0, centre - halfWidth), Math.Min(1, centre + halfWidth));
    }
}
