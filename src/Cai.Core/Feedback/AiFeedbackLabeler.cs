using Cai.Core.Constitutions;
using Cai.Core.Dialogues;
using Cai.Core.Generation;
using Cai.Core.Prompts;

namespace Cai.Core.Feedback;

/// <summary>Settings of RL-CAI's AI feedback labelling.</summary>
public sealed record FeedbackOptions
{
    /// <summary>Principles drawn per comparison (distinct); their labels are averaged (an ensemble). The paper draws one.</summary>
    public int PrinciplesPerComparison { get; init; } = 2;

    /// <summary>Ask every order of the options (cyclic rotations; for two options, both orders) and average, cancelling position bias.</summary>
    public bool AverageOverOrders { get; init; } = true;

    /// <summary>Few-shot demonstrations drawn from the constitution (its chain-of-thought examples when <see cref="ChainOfThought"/>).</summary>
    public int FewShotExamples { get; init; }

    /// <summary>Let the feedback model reason step by step before answering; its probabilities are then clamped.</summary>
    public bool ChainOfThought { get; init; }

    /// <summary>Lower clamp bound for chain-of-thought probabilities.</summary>
    public double ClampLow { get; init; } = 0.4;

    /// <summary>Upper clamp bound for chain-of-thought probabilities.</summary>
    public double ClampHigh { get; init; } = 0.6;

    /// <summary>Sampling of chain-of-thought reasoning.</summary>
    public GenerationSettings ReasoningSettings { get; init; } = new() { MaxNewTokens = 64, Temperature = 0 };

    /// <summary>Run seed; with the comparison id it fixes the principle and example draws.</summary>
    public ulong Seed { get; init; }

    /// <summary>Comparisons processed together (each yields principles x orders model rows).</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Problems with these options, each naming the option; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (PrinciplesPerComparison <= 0)
        {
            errors.Add($"{nameof(PrinciplesPerComparison)} must be > 0");
        }

        if (FewShotExamples < 0)
        {
            errors.Add($"{nameof(FewShotExamples)} must be >= 0");
        }

        if (!(ClampLow >= 0 && ClampLow <= ClampHigh && ClampHigh <= 1))
        {
            errors.Add($"{nameof(ClampLow)}/{nameof(ClampHigh)} must satisfy 0 <= low <= high <= 1");
        }

        if (BatchSize <= 0)
        {
            errors.Add($"{nameof(BatchSize)} must be > 0");
        }

        errors.AddRange(ReasoningSettings.Validate(nameof(ReasoningSettings)));
        return errors;
    }
}

/// <summary>A comparison to label: a conversation ending with a human turn and two or more candidate responses.</summary>
public sealed record FeedbackComparison(string Id, Dialogue Conversation, IReadOnlyList<string> Responses);

/// <summary>
/// One question put to the feedback model: a principle and an order of the options. <see cref="Probabilities"/>
/// are already mapped back to the original response order (and clamped for chain of thought).
/// </summary>
public sealed record FeedbackJudgement(string PrincipleId, IReadOnlyList<int> Order, IReadOnlyList<double> Probabilities, string? Reasoning);

/// <summary>
/// An AI soft preference label: the probability that each response is the better one, averaged over orders and
/// principles, plus the judgements it came from. The preference model trains on <see cref="Probabilities"/>.
/// </summary>
public sealed record SoftLabel(string ComparisonId, IReadOnlyList<double> Probabilities, IReadOnlyList<FeedbackJudgement> Judgements);

/// <summary>
/// RL-CAI's AI feedback: for each comparison, draws principles from the constitution, asks the feedback model the
/// multiple-choice question in every option order, and turns the option log-probabilities into a soft label.
/// With chain of thought, a text model first writes reasoning, then the options are scored after "The answer is:".
/// </summary>
public sealed class AiFeedbackLabeler
{
    /// <summary>The random stream name used for this labeller's draws.</summary>
    public const string RandomStream = "feedback";

    private readonly IOptionScorer scorer;
    private readonly ITextModel? reasoner;
    private readonly Constitution constitution;
    private readonly FeedbackOptions options;

    /// <summary>Creates the labeller.</summary>
    /// <param name="scorer">Scores the option continuations.</param>
    /// <param name="constitution">Supplies the feedback principles and demonstrations.</param>
    /// <param name="options">Labelling settings.</param>
    /// <param name="reasoner">Writes chain-of-thought reasoning; required when <see cref="FeedbackOptions.ChainOfThought"/>.</param>
    /// <exception cref="ArgumentException">Invalid options, or more principles/examples asked than the constitution has.</exception>
    public AiFeedbackLabeler(IOptionScorer scorer, Constitution constitution, FeedbackOptions options, ITextModel? reasoner = null)
    {
        this.scorer = scorer ?? throw new ArgumentNullException(nameof(scorer));
        this.constitution = constitution ?? throw new ArgumentNullException(nameof(constitution));
        this.options = options ?? throw new ArgumentNullException(nameof(options));
        this.reasoner = reasoner;
        var errors = options.Validate().ToList();
        if (options.PrinciplesPerComparison > constitution.FeedbackPrinciples.Count)
        {
            errors.Add($"{nameof(options.PrinciplesPerComparison)} is {options.PrinciplesPerComparison} but constitution " +
                       $"'{constitution.Name}' has only {constitution.FeedbackPrinciples.Count} feedback principles");
        }

        if (options.FewShotExamples > Examples.Count)
        {
            errors.Add($"{nameof(options.FewShotExamples)} is {options.FewShotExamples} but constitution '{constitution.Name}' " +
                       $"has only {Examples.Count} {(options.ChainOfThought ? "chain-of-thought" : "feedback")} examples");
        }

        if (options.ChainOfThought && reasoner is null)
        {
            errors.Add($"{nameof(options.ChainOfThought)} needs a reasoner (an {nameof(ITextModel)})");
        }

        if (errors.Count > 0)
        {
            throw new ArgumentException("invalid feedback options: " + string.Join("; ", errors), nameof(options));
        }
    }

    private IReadOnlyList<FeedbackExample> Examples =>
        options.ChainOfThought ? constitution.ChainOfThoughtExamples : constitution.FeedbackExamples;

    /// <summary>The principles and demonstrations for one comparison: a pure function of (seed, comparison id).</summary>
    public (IReadOnlyList<FeedbackPrinciple> Principles, IReadOnlyList<FeedbackExample> Examples) Draw(string comparisonId)
    {
        var rng = DeterministicRandom.ForItem(options.Seed, RandomStream, comparisonId);
        var principles = rng.SampleWithoutReplacement(constitution.FeedbackPrinciples.Count, options.PrinciplesPerComparison)
            .Select(i => constitution.FeedbackPrinciples[i]).ToArray();
        var examples = rng.SampleWithoutReplacement(Examples.Count, options.FewShotExamples)
            .Select(i => Examples[i]).ToArray();
        return (principles, examples);
    }

    /// <summary>Labels comparisons, in order.</summary>
    public async Task<IReadOnlyList<SoftLabel>> LabelAsync(
        IReadOnlyList<FeedbackComparison> comparisons, CancellationToken cancellationToken = default)
    {
        var results = new List<SoftLabel>(comparisons?.Count ?? 0);
        await foreach (var batch in LabelBatchesAsync(comparisons!, cancellationToken).ConfigureAwait(false))
        {
            results.AddRange(batch);
        }

        return results;
    }

    /// <summary>
    /// Like <see cref="LabelAsync"/> but yields the labels of each batch of <see cref="FeedbackOptions.BatchSize"/>
    /// comparisons as soon as it is done, so a stream worker can write and acknowledge results batch by batch.
    /// </summary>
    public async IAsyncEnumerable<IReadOnlyList<SoftLabel>> LabelBatchesAsync(
        IReadOnlyList<FeedbackComparison> comparisons,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(comparisons);
        // Refuse bad input before spending any model time on it.
        foreach (var c in comparisons)
        {
            if (c is null || c.Responses is null || c.Responses.Count is < 2 or > 26 || c.Conversation is null || !c.Conversation.EndsWithHuman)
            {
                throw new ArgumentException(
                    $"comparison '{c?.Id}' needs a conversation ending with a human turn and 2 to 26 responses", nameof(comparisons));
            }
        }

        for (int start = 0; start < comparisons.Count; start += options.BatchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var batch = comparisons.Skip(start).Take(options.BatchSize).ToArray();
            yield return await LabelBatchAsync(batch, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<IReadOnlyList<SoftLabel>> LabelBatchAsync(FeedbackComparison[] batch, CancellationToken cancellationToken)
    {
        // One question per (comparison, principle, order); all questions of the batch go to the model together.
        var questions = new List<(int Comparison, FeedbackPrinciple Principle, int[] Order, string Prompt)>();
        for (int c = 0; c < batch.Length; c++)
        {
            var comparison = batch[c];
            var (principles, examples) = Draw(comparison.Id);
            int orders = options.AverageOverOrders ? comparison.Responses.Count : 1;
            foreach (var principle in principles)
            {
                for (int shift = 0; shift < orders; shift++)
                {
                    var order = SoftLabels.Rotation(comparison.Responses.Count, shift);
                    var shown = order.Select(i => comparison.Responses[i]).ToArray();
                    var prompt = options.ChainOfThought
                        ? FeedbackPrompts.BuildChainOfThought(comparison.Conversation, principle.Text, shown, examples)
                        : FeedbackPrompts.BuildMultipleChoice(comparison.Conversation, principle.Text, shown, examples);
                    questions.Add((c, principle, order, prompt));
                }
            }
        }

        string?[] reasoning = new string?[questions.Count];
        var scoringPrompts = questions.Select(q => q.Prompt).ToArray();
        if (options.ChainOfThought)
        {
            var settings = options.ReasoningSettings.WithStops(
                ["\n" + PromptFormat.AnswerMarker, PromptFormat.ExampleSeparator, DialogueFormat.TurnSeparator + DialogueFormat.HumanMarker]) with
            {
                Seed = options.ReasoningSettings.Seed ?? DeterministicRandom.ForItem(options.Seed, RandomStream, "sampling:reasoning").NextUInt64(),
            };
            var generated = await reasoner!.CompleteAsync(scoringPrompts, settings, cancellationToken).ConfigureAwait(false);
            if (generated.Count != questions.Count)
            {
                throw new InvalidOperationException($"the reasoner returned {generated.Count} completions for {questions.Count} prompts");
            }

            for (int q = 0; q < questions.Count; q++)
            {
                reasoning[q] = Completions.TruncateAtStop(generated[q] ?? string.Empty, settings.StopSequences);
                scoringPrompts[q] = FeedbackPrompts.BuildChainOfThoughtAnswer(scoringPrompts[q], reasoning[q]!);
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
        var requests = questions.Select((q, i) => new OptionScoringRequest(
            scoringPrompts[i], FeedbackPrompts.OptionContinuations(q.Order.Length))).ToArray();
        var scores = await scorer.ScoreAsync(requests, cancellationToken).ConfigureAwait(false);
        if (scores.Count != requests.Length)
        {
            throw new InvalidOperationException($"the scorer returned {scores.Count} results for {requests.Length} requests");
        }

        var judgements = batch.Select(_ => new List<FeedbackJudgement>()).ToArray();
        for (int q = 0; q < questions.Count; q++)
        {
            if (scores[q].Count != questions[q].Order.Length)
            {
                throw new InvalidOperationException(
                    $"the scorer returned {scores[q].Count} log-probs for {questions[q].Order.Length} options");
            }

            var byPosition = SoftLabels.FromLogProbs(scores[q]);
            if (options.ChainOfThought)
            {
                byPosition = SoftLabels.Clamp(byPosition, options.ClampLow, options.ClampHigh);
            }

            judgements[questions[q].Comparison].Add(new FeedbackJudgement(
                questions[q].Principle.Id, questions[q].Order, SoftLabels.ToOriginalOrder(byPosition, questions[q].Order), reasoning[q]));
        }

        return [.. batch.Select((c, i) => new SoftLabel(
            c.Id, SoftLabels.Average(judgements[i].Select(j => j.Probabilities)), judgements[i]))];
    }
}
