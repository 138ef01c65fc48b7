namespace Cai.Core.Feedback;

/// <summary>
/// RL-CAI's soft-label math. The feedback model's log-probabilities of the option continuations " (A)", " (B)", ...
/// become a normalised distribution over the options (a soft preference label); distributions from both option
/// orders and from several principles are averaged; chain-of-thought distributions, which tend to be near 0 or 1,
/// are clamped to a band such as [0.4, 0.6] so a single reasoning chain cannot produce an overconfident label.
/// </summary>
public static class SoftLabels
{
    /// <summary>Softmax over the options' log-probabilities: the normalised probability of each option.</summary>
    public static double[] FromLogProbs(IReadOnlyList<double> optionLogProbs)
    {
        ArgumentNullException.ThrowIfNull(optionLogProbs);
        if (optionLogProbs.Count == 0)
        {
            throw new ArgumentException("at least one option log-probability is needed", nameof(optionLogProbs));
        }

        if (optionLogProbs.Any(double.IsNaN) || optionLogProbs.Any(double.IsPositiveInfinity))
        {
            throw new ArgumentException("option log-probabilities must not be NaN or +infinity", nameof(optionLogProbs));
        }

        double max = optionLogProbs.Max();
        if (double.IsNegativeInfinity(max))
        {
            throw new ArgumentException("every option has probability zero", nameof(optionLogProbs));
        }

        // Subtracting the max keeps exp() in range for very negative log-probs.
        var exp = optionLogProbs.Select(lp => Math.Exp(lp - max)).ToArray();
        double sum = exp.Sum();
        return [.. exp.Select(e => e / sum)];
    }

    /// <summary>
    /// The order in which options are shown for rotation <paramref name="shift"/>: <c>order[position]</c> is the
    /// index of the original option shown at that position. With two options, shift 1 is the swap.
    /// </summary>
    public static int[] Rotation(int optionCount, int shift)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(optionCount, 1);
        return [.. Enumerable.Range(0, optionCount).Select(p => ((p + shift) % optionCount + optionCount) % optionCount)];
    }

    /// <summary>Maps probabilities by shown position back to the original options, given the order they were shown in.</summary>
    public static double[] ToOriginalOrder(IReadOnlyList<double> probabilitiesByPosition, IReadOnlyList<int> order)
    {
        ArgumentNullException.ThrowIfNull(probabilitiesByPosition);
        ArgumentNullException.ThrowIfNull(order);
        if (order.Count != probabilitiesByPosition.Count || order.Distinct().Count() != order.Count
            || order.Any(o => o < 0 || o >= order.Count))
        {
            throw new ArgumentException("order must be a permutation of the option indices", nameof(order));
        }

        var result = new double[order.Count];
        for (int position = 0; position < order.Count; position++)
        {
            result[order[position]] = probabilitiesByPosition[position];
        }

        return result;
    }

    /// <summary>
    /// Averages distributions over the same options: used for an ensemble of principles, and for the option orders.
    /// Over all rotations each option appears at each position once, so a position's systematic advantage no longer
    /// favours any option (a judge with a position bias but no preference gets exactly uniform probabilities).
    /// </summary>
    public static double[] Average(IEnumerable<IReadOnlyList<double>> distributions)
    {
        ArgumentNullException.ThrowIfNull(distributions);
        double[]? sum = null;
        int count = 0;
        foreach (var d in distributions)
        {
            sum ??= new double[d.Count];
            if (d.Count != sum.Length)
            {
                throw new ArgumentException("distributions differ in their number of options", nameof(distributions));
            }

            for (int i = 0; i < sum.Length; i++)
            {
                sum[i] += d[i];
            }

            count++;
        }

        if (sum is null)
        {
            throw new ArgumentException("at least one distribution is needed", nameof(distributions));
        }

        return [.. sum.Select(s => s / count)];
    }

    /// <summary>
    /// Clamps a chain-of-thought distribution into [<paramref name="low"/>, <paramref name="high"/>]. For two
    /// options the first probability is clamped and the second is its complement (the paper's setting). For more
    /// options each probability is clamped and the result renormalised.
    /// </summary>
    public static double[] Clamp(IReadOnlyList<double> probabilities, double low = 0.4, double high = 0.6)
    {
        ArgumentNullException.ThrowIfNull(probabilities);
        if (!(low >= 0 && low <= high && high <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(low), $"need 0 <= low <= high <= 1, got [{low}, {high}]");
        }

        if (probabilities.Count == 2)
        {
            double first = Math.Clamp(probabilities[0], low, high);
            return [first, 1 - first];
        }

        var clamped = probabilities.Select(p => Math.Clamp(p, low, high)).ToArray();
        double sum = clamped.Sum();
        return [.. clamped.Select(p => p / sum)];
    }
}
