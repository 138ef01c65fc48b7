using Cai.Core.Data;
using Cai.Core.Dialogues;
using Cai.Core.Metrics;

namespace Cai.Training.PreferenceModel;

/// <summary>How a preference model did on held-out comparisons.</summary>
/// <param name="Pairs">Comparisons scored (each with a definite better side).</param>
/// <param name="Accuracy">Fraction where the better response scored strictly higher.</param>
/// <param name="Calibration">ECE and reliability bins of sigmoid(r_A - r_B) as p(A is better), over
/// both orientations of every pair, so the diagram is symmetric about 0.5 and every bin can be filled.</param>
/// <param name="Skipped">Input rows left out (malformed hh-rlhf rows, or labels of exactly 0.5).</param>
public sealed record PreferenceEvaluation(int Pairs, double Accuracy, CalibrationReport Calibration, int Skipped);

/// <summary>
/// Evaluates a preference model as the paper does: accuracy and calibration on two-choice
/// comparisons, from files in the paper's HHH format (<c>{"prompt", "corrects", "incorrects"}</c>:
/// every correct/incorrect pair) or in hh-rlhf's (<c>{"chosen", "rejected"}</c>), or on labelled
/// comparisons (better side = label above 0.5).
/// </summary>
public sealed class PreferenceModelEvaluator(PreferenceModelScorer scorer, int binCount = 10)
{
    private readonly PreferenceModelScorer _scorer = scorer ?? throw new ArgumentNullException(nameof(scorer));

    /// <summary>Every (correct, incorrect) answer pair of every question.</summary>
    public PreferenceEvaluation EvaluateChoiceQuestions(IReadOnlyList<ChoiceQuestion> questions, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(questions);
        var pairs = questions.SelectMany(q => q.Pairs().Select(p => (q.Prompt, Better: p.Correct, Worse: p.Incorrect))).ToList();
        return Evaluate(pairs, 0, cancellationToken);
    }

    /// <summary>hh-rlhf comparisons; rows that are not well formed (<see cref="HhRlhfComparison.IsWellFormed"/>) are skipped.</summary>
    public PreferenceEvaluation EvaluateHhRlhf(IReadOnlyList<HhRlhfComparison> comparisons, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(comparisons);
        var kept = comparisons.Where(c => c.IsWellFormed).Select(c => (c.Prompt, Better: c.Chosen, Worse: c.Rejected)).ToList();
        return Evaluate(kept, comparisons.Count - kept.Count, cancellationToken);
    }

    /// <summary>Labelled comparisons; those labelled exactly 0.5 have no better side and are skipped.</summary>
    public PreferenceEvaluation Evaluate(IReadOnlyList<PreferenceComparison> comparisons, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(comparisons);
        var kept = comparisons.Where(c => c.PreferA != 0.5)
            .Select(c => c.PreferA > 0.5 ? (c.Prompt, Better: c.ResponseA, Worse: c.ResponseB) : (c.Prompt, Better: c.ResponseB, Worse: c.ResponseA))
            .ToList();
        return Evaluate(kept, comparisons.Count - kept.Count, cancellationToken);
    }

    private PreferenceEvaluation Evaluate(List<(Dialogue Prompt, string Better, string Worse)> pairs, int skipped, CancellationToken cancellationToken)
    {
        if (pairs.Count == 0) throw new ArgumentException("There are no comparisons to evaluate.");
        var dialogues = pairs.SelectMany(p => new[] { p.Prompt.WithAssistant(p.Better), p.Prompt.WithAssistant(p.Worse) }).ToList();
        var scores = _scorer.Score(dialogues, cancellationToken);
        int correct = 0;
        var predicted = new List<double>(2 * pairs.Count);
        var outcomes = new List<bool>(2 * pairs.Count);
        for (int i = 0; i < pairs.Count; i++)
        {
            double better = scores[2 * i], worse = scores[2 * i + 1];
            if (better > worse) correct++;
            double p = PairwiseLoss.PreferenceProbability(better, worse);
            predicted.Add(p);
            outcomes.Add(true);
            predicted.Add(1 - p);
            outcomes.Add(false);
        }
        return new PreferenceEvaluation(pairs.Count, (double)correct / pairs.Count, Calibration.Compute(predicted, outcomes, binCount), skipped);
    }
}
