using Cai.Core.Constitutions;
using Cai.Core.Data;
using Cai.Core.Dialogues;
using Cai.Core.Generation;
using Cai.Core.Prompts;

namespace Cai.Core.CritiqueRevision;

/// <summary>
/// SL-CAI's data generation: the helpful-only model answers each prompt, then critiques and revises its own answer
/// for several rounds, each under a principle drawn at random from the constitution. Prompts are processed in
/// batches so every model call carries many sequences. Each round critiques the latest revision afresh (the
/// earlier rounds are not kept in context), which keeps prompts within a small model's context window.
/// </summary>
public sealed class CritiqueRevisionLoop
{
    /// <summary>The random stream name used for this loop's draws (see <see cref="DeterministicRandom.ForItem"/>).</summary>
    public const string RandomStream = "critique-revision";

    // A sampled section must end where the next section or conversation would begin.
    private static readonly string[] ResponseStops =
        [DialogueFormat.TurnSeparator + DialogueFormat.HumanMarker, DialogueFormat.TurnSeparator + PromptFormat.CritiqueRequestMarker, PromptFormat.ExampleSeparator];
    private static readonly string[] CritiqueStops =
        [DialogueFormat.TurnSeparator + PromptFormat.RevisionRequestMarker, DialogueFormat.TurnSeparator + DialogueFormat.HumanMarker, PromptFormat.ExampleSeparator];
    private static readonly string[] RevisionStops =
        [DialogueFormat.TurnSeparator + DialogueFormat.HumanMarker, DialogueFormat.TurnSeparator + PromptFormat.CritiqueRequestMarker, PromptFormat.ExampleSeparator];

    private readonly ITextModel model;
    private readonly Constitution constitution;
    private readonly CritiqueRevisionOptions options;

    /// <summary>Creates the loop.</summary>
    /// <exception cref="ArgumentException">The options are invalid, or ask for more few-shot examples than the constitution has.</exception>
    public CritiqueRevisionLoop(ITextModel model, Constitution constitution, CritiqueRevisionOptions options)
    {
        this.model = model ?? throw new ArgumentNullException(nameof(model));
        this.constitution = constitution ?? throw new ArgumentNullException(nameof(constitution));
        this.options = options ?? throw new ArgumentNullException(nameof(options));
        var errors = options.Validate().ToList();
        if (options.FewShotExamples > constitution.CritiqueRevisionExamples.Count)
        {
            errors.Add($"{nameof(options.FewShotExamples)} is {options.FewShotExamples} but constitution '{constitution.Name}' " +
                       $"has only {constitution.CritiqueRevisionExamples.Count} critique/revision examples");
        }

        if (errors.Count > 0)
        {
            throw new ArgumentException("invalid critique/revision options: " + string.Join("; ", errors), nameof(options));
        }
    }

    /// <summary>
    /// The draws for one prompt: the principle id of each round and the few-shot examples shown. A pure function of
    /// (seed, prompt id), so a prompt gets the same principles whatever batch or worker processes it.
    /// </summary>
    public (IReadOnlyList<CritiqueRevisionPrinciple> Principles, IReadOnlyList<CritiqueRevisionExample> Examples) Draw(string promptId)
    {
        var rng = DeterministicRandom.ForItem(options.Seed, RandomStream, promptId);
        var principles = new CritiqueRevisionPrinciple[options.Rounds];
        for (int r = 0; r < principles.Length; r++)
        {
            principles[r] = constitution.CritiqueRevisionPrinciples[rng.Next(constitution.CritiqueRevisionPrinciples.Count)];
        }

        var examples = rng.SampleWithoutReplacement(constitution.CritiqueRevisionExamples.Count, options.FewShotExamples)
            .Select(i => constitution.CritiqueRevisionExamples[i]).ToArray();
        return (principles, examples);
    }

    /// <summary>
    /// Runs the loop over prompts and returns every trace, in prompt order. When <paramref name="initialResponses"/>
    /// is given (one per prompt) the model's own answering step is skipped; otherwise the model answers first.
    /// </summary>
    public async Task<IReadOnlyList<CritiqueRevisionTrace>> RunAsync(
        IReadOnlyList<PromptRecord> prompts,
        IReadOnlyList<string>? initialResponses = null,
        CancellationToken cancellationToken = default)
    {
        var results = new List<CritiqueRevisionTrace>(prompts?.Count ?? 0);
        await foreach (var batch in RunBatchesAsync(prompts!, initialResponses, cancellationToken).ConfigureAwait(false))
        {
            results.AddRange(batch);
        }

        return results;
    }

    /// <summary>
    /// Like <see cref="RunAsync"/> but yields the traces of each batch of <see cref="CritiqueRevisionOptions.BatchSize"/>
    /// prompts as soon as it is done, so a stream worker can write and acknowledge results batch by batch.
    /// </summary>
    public async IAsyncEnumerable<IReadOnlyList<CritiqueRevisionTrace>> RunBatchesAsync(
        IReadOnlyList<PromptRecord> prompts,
        IReadOnlyList<string>? initialResponses = null,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        if (initialResponses is not null && initialResponses.Count != prompts.Count)
        {
            throw new ArgumentException($"got {initialResponses.Count} initial responses for {prompts.Count} prompts", nameof(initialResponses));
        }

        // Refuse bad input before spending any model time on it.
        foreach (var p in prompts)
        {
            if (p is null || !p.Prompt.EndsWithHuman)
            {
                throw new ArgumentException($"prompt '{p?.Id}' is null or does not end with a human turn", nameof(prompts));
            }
        }

        for (int start = 0; start < prompts.Count; start += options.BatchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int count = Math.Min(options.BatchSize, prompts.Count - start);
            var batch = prompts.Skip(start).Take(count).ToArray();
            var given = initialResponses?.Skip(start).Take(count).ToArray();
            yield return await RunBatchAsync(batch, given, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<IReadOnlyList<CritiqueRevisionTrace>> RunBatchAsync(
        PromptRecord[] batch, string[]? given, CancellationToken cancellationToken)
    {
        var draws = batch.Select(p => Draw(p.Id)).ToArray();
        var responses = given ?? (await GenerateAsync(
            [.. batch.Select(p => p.Prompt.RenderPrompt())], options.ResponseSettings, ResponseStops, "response", cancellationToken)
            .ConfigureAwait(false)).ToArray();
        var initial = responses.ToArray();
        var rounds = batch.Select(_ => new List<CritiqueRevisionRound>()).ToArray();

        for (int r = 0; r < options.Rounds; r++)
        {
            string?[] critiques = new string?[batch.Length];
            if (!options.DirectRevision)
            {
                var critiquePrompts = batch.Select((p, i) => CritiqueRevisionPrompts.BuildCritique(
                    p.Prompt, responses[i], draws[i].Principles[r], draws[i].Examples)).ToArray();
                critiques = [.. await GenerateAsync(critiquePrompts, options.CritiqueSettings, CritiqueStops, $"critique{r}", cancellationToken)
                    .ConfigureAwait(false)];
            }

            var revisionPrompts = batch.Select((p, i) => options.DirectRevision
                ? CritiqueRevisionPrompts.BuildDirectRevision(p.Prompt, responses[i], draws[i].Principles[r], draws[i].Examples)
                : CritiqueRevisionPrompts.BuildRevision(p.Prompt, responses[i], draws[i].Principles[r], critiques[i]!, draws[i].Examples))
                .ToArray();
            var revisions = await GenerateAsync(revisionPrompts, options.RevisionSettings, RevisionStops, $"revision{r}", cancellationToken)
                .ConfigureAwait(false);
            for (int i = 0; i < batch.Length; i++)
            {
                rounds[i].Add(new CritiqueRevisionRound(r, draws[i].Principles[r].Id, critiques[i], revisions[i]));
                responses[i] = revisions[i];
            }
        }

        return [.. batch.Select((p, i) => new CritiqueRevisionTrace(
            p.Id, p.Prompt, initial[i], rounds[i], [.. draws[i].Examples.Select(e => e.Id)]))];
    }

    private async Task<IReadOnlyList<string>> GenerateAsync(
        string[] prompts, GenerationSettings settings, string[] stops, string step, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        // Without an explicit sampling seed, each step gets one derived from the run seed, so a run is reproducible.
        var withStops = settings.WithStops(stops) with
        {
            Seed = settings.Seed ?? DeterministicRandom.ForItem(options.Seed, RandomStream, "sampling:" + step).NextUInt64(),
        };
        var outputs = await model.CompleteAsync(prompts, withStops, cancellationToken).ConfigureAwait(false);
        if (outputs.Count != prompts.Length)
        {
            throw new InvalidOperationException($"the model returned {outputs.Count} completions for {prompts.Length} prompts");
        }

        return [.. outputs.Select(o => Completions.TruncateAtStop(o ?? string.Empty, withStops.StopSequences))];
    }
}
