using Cai.Core.Generation;

namespace Cai.Training.Data;

/// <summary>
/// Mixes a stage's main data with auxiliary data at a ratio: SL-CAI's revisions with ordinary
/// helpful samples (so the fine-tuned policy stays helpful), the preference model's AI
/// harmlessness comparisons with helpfulness comparisons.
/// </summary>
public static class TrainingMix
{
    /// <summary>The <see cref="DeterministicRandom.ForItem"/> stream name of the draws.</summary>
    public const string RandomStream = "training-mix";

    /// <summary>
    /// All of <paramref name="main"/> plus round(main.Count x <paramref name="auxiliaryPerMain"/>)
    /// items of <paramref name="auxiliary"/> (all of them when fewer are available), drawn without
    /// replacement from <paramref name="seed"/>. The trainer shuffles, so the order here is immaterial.
    /// </summary>
    public static IReadOnlyList<T> Combine<T>(IReadOnlyList<T> main, IReadOnlyList<T> auxiliary, double auxiliaryPerMain, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(main);
        ArgumentNullException.ThrowIfNull(auxiliary);
        if (!(auxiliaryPerMain >= 0)) throw new ArgumentOutOfRangeException(nameof(auxiliaryPerMain), auxiliaryPerMain, "The mix ratio must be >= 0.");
        int wanted = (int)Math.Min(auxiliary.Count, Math.Round(main.Count * auxiliaryPerMain, MidpointRounding.AwayFromZero));
        var picks = DeterministicRandom.ForItem(seed, RandomStream, "auxiliary").SampleWithoutReplacement(auxiliary.Count, wanted);
        var result = new List<T>(main.Count + wanted);
        result.AddRange(main);
        result.AddRange(picks.Select(i => auxiliary[i]));
        return result;
    }

    /// <summary>
    /// Splits off round(count x <paramref name="heldOutFraction"/>) items, drawn from
    /// <paramref name="seed"/>, for evaluation (e.g. the preference model's accuracy and calibration
    /// on comparisons it never trained on). Both parts keep the input order.
    /// </summary>
    public static (IReadOnlyList<T> Train, IReadOnlyList<T> HeldOut) HoldOut<T>(IReadOnlyList<T> items, double heldOutFraction, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(items);
        if (!(heldOutFraction >= 0 && heldOutFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(heldOutFraction), heldOutFraction, "The held-out fraction must be in [0, 1).");
        int count = (int)Math.Round(items.Count * heldOutFraction, MidpointRounding.AwayFromZero);
        var heldOut = DeterministicRandom.ForItem(seed, RandomStream, "held-out").SampleWithoutReplacement(items.Count, count).ToHashSet();
        return (items.Where((_, i) => !heldOut.Contains(i)).ToList(), items.Where((_, i) => heldOut.Contains(i)).ToList());
    }
}
