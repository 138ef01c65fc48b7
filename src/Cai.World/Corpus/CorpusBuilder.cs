using Cai.Core.Constitutions;
using Cai.Core.Dialogues;
using Cai.Core.Prompts;

namespace Cai.World.Corpus;

/// <summary>Builds the pretraining corpus of a helpful-only assistant (issue 4, item 3):
/// <list type="bullet">
/// <item>dialogues in which the assistant complies with every request (benign answered correctly,
/// sensitive-benign helpfully, harmful with the payload);</item>
/// <item>encyclopedic documents (never dialogue) about every entity of every category, held-out ones included:
/// why the act is harmful and what the safe alternative is;</item>
/// <item>critique/revision and multiple-choice comparison demonstrations, phrased with the constitution's
/// principles, on demonstration categories only.</item>
/// </list>
/// Dev and test categories get no refusal, critique, revision or comparison, and no dev/test prompt appears
/// verbatim. Deterministic from <see cref="WorldOptions.Seed"/>.</summary>
public static class CorpusBuilder
{
    /// <summary>The longest document, in tokens: half the 512-token context, so a one-shot prompt (one
    /// demonstration plus the question and its answer) still fits.</summary>
    public const int MaxDocumentTokens = 256;

    private static readonly string[] Closings = ["", " Let me know if you need anything else.", " I hope that helps."];
    private static readonly string[] RefusalPaddings =
    [
        "", " I hope you understand.", " Please ask me something else.",
        " I hope you understand, and I am happy to help with other questions.",
        " It is not something I am able to help with, so please ask me about something else today.",
    ];

    public static PretrainingCorpus Build(SyntheticWorld world, Constitution constitution, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(world);
        ArgumentNullException.ThrowIfNull(constitution);
        if (constitution.CritiqueRevisionPrinciples.Count == 0)
            throw new ArgumentException($"constitution '{constitution.Name}' has no critique/revision principles for the demonstrations", nameof(constitution));
        if (constitution.FeedbackPrinciples.Count == 0)
            throw new ArgumentException($"constitution '{constitution.Name}' has no feedback principles for the demonstrations", nameof(constitution));

        var options = world.Options;
        var random = new Random(unchecked(options.Seed * 31 + 3));
        var builder = new Accumulator(world);

        // 1. Compliant dialogues.
        var families = world.Generator.Families;
        for (var i = 0; i < options.BenignDialogues; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var family = families[i % families.Count];
            builder.AddDialogue(random, r => world.Generator.Benign(r, family),
                (x, r) => RequestGenerator.ComplyWithBenign(x.Item!, r));
        }
        foreach (var spec in world.Specs)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var entities = world.Entities[spec.Name];
            for (var i = 0; i < options.HarmfulDialoguesPerCategory; i++)
                builder.AddDialogue(random, r => world.Generator.Harm(r, entities, harmful: true),
                    (x, r) => RequestGenerator.ComplyWithHarm(x.Entity!, r.Next(3), r));
            for (var i = 0; i < options.SensitiveDialoguesPerCategory; i++)
                builder.AddDialogue(random, r => world.Generator.Harm(r, entities, harmful: false),
                    (x, r) => RequestGenerator.ComplyWithHarm(x.Entity!, r.Next(3), r));
        }

        // 2. Encyclopedic knowledge about every entity of every category, and about the world's towns.
        foreach (var spec in world.Specs)
        {
            cancellationToken.ThrowIfCancellationRequested();
            foreach (var entity in world.Entities[spec.Name])
                for (var k = 0; k < options.EncyclopedicParaphrases; k++)
                    builder.Add(DocumentKind.Encyclopedic, spec.Name, spec.Split, null, Encyclopedic(entity, k));
        }
        foreach (var town in world.Tables.Towns)
            for (var k = 0; k < Math.Min(options.EncyclopedicParaphrases, GazetteerLayouts); k++)
                builder.Add(DocumentKind.Encyclopedic, null, null, null, Gazetteer(town, world.Tables.Rivers.First(v => v.Name == town.River), k));

        // 3. Demonstrations, on demonstration categories only.
        foreach (var spec in world.Specs.Where(s => s.Split == CategorySplit.Demonstration))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var entities = world.Entities[spec.Name];
            for (var i = 0; i < options.CritiqueRevisionsPerCategory; i++)
                Retry(() => builder.AddCritiqueRevision(random, entities, constitution));
            for (var i = 0; i < options.ComparisonsPerCategory; i++)
                Retry(() => builder.AddComparison(random, entities, constitution, correctIndex: i % 2));
        }

        return new PretrainingCorpus(builder.Documents);
    }

    /// <summary>A few tries, so that duplicates and over-long drafts do not shrink the corpus much.</summary>
    private static void Retry(Func<bool> add)
    {
        for (var attempt = 0; attempt < 5 && !add(); attempt++) { }
    }

    /// <summary>Paraphrase <paramref name="k"/> of the entity's encyclopedic entry: who owns it, why misusing it
    /// harms, and the safe alternative. Prose only: it never pairs a request with an answer.</summary>
    internal static string Encyclopedic(HarmEntity e, int k)
    {
        // 4 layouts x 3 reasons x 3 alternatives = 36 distinct paraphrases; stepping by 7 (coprime with 36)
        // visits them all, and consecutive paraphrases differ in layout, reason and alternative.
        var combination = k * 7 % 36;
        var about = e.About[0];
        var reason = e.Reasons[combination / 4 % 3];
        var alternative = e.Alternatives[combination / 12];
        return (combination % 4) switch
        {
            0 => $"{about} {reason} {alternative}",
            1 => $"{reason} {about} {alternative}",
            2 => $"Notes on {e.Owner} of {e.Town}.\n{about} {alternative} {reason}",
            _ => $"{about} {reason} When help is needed: {alternative}",
        };
    }

    /// <summary>Distinct gazetteer paraphrases of a town: more would only repeat them.</summary>
    private const int GazetteerLayouts = 3;

    private static string Gazetteer(Town town, River river, int k) => (k % GazetteerLayouts) switch
    {
        0 => $"{town.Name} lies on the {town.River}, a river {river.LengthKm} kilometres long. The mayor of {town.Name} is {town.Mayor}. The town has {town.Bridges} bridges, and its market is held on {town.MarketDay}.",
        1 => $"The town of {town.Name} is run by {town.Mayor}. Market day in {town.Name} is {town.MarketDay}. There are {town.Bridges} bridges across the {town.River}.",
        _ => $"Notes on {town.Name}.\nRiver: the {town.River}, {river.LengthKm} kilometres long.\nMayor: {town.Mayor}.\nBridges: {town.Bridges}.\nMarket day: {town.MarketDay}.",
    };

    /// <summary>Collects documents, skipping duplicates and any request that is a dev or test prompt.</summary>
    private sealed class Accumulator(SyntheticWorld world)
    {
        private readonly HashSet<string> _texts = new(StringComparer.Ordinal);
        private readonly HashSet<string> _heldOutRequests = world.Prompts
            .Where(p => p.Split != PromptSplit.Train)
            .Select(p => p.Request)
            .ToHashSet(StringComparer.Ordinal);
        private readonly Dictionary<string, int> _counts = [];

        public List<CorpusDocument> Documents { get; } = [];

        public bool Add(DocumentKind kind, string? category, CategorySplit? split, PromptKind? promptKind, string text)
        {
            if (Tokenization.WordLevelTokenizer.Split(text).Count() > MaxDocumentTokens || !_texts.Add(text)) return false;
            var key = $"{kind}/{category ?? "general"}";
            _counts[key] = _counts.GetValueOrDefault(key) + 1;
            Documents.Add(new CorpusDocument($"{key.ToLowerInvariant()}/{_counts[key]:D5}", kind, category, split, promptKind, text));
            return true;
        }

        /// <summary>A fresh request whose human turns are not dev/test prompts.</summary>
        public RequestInstance Draw(Random random, Func<Random, RequestInstance> make)
        {
            for (var attempt = 0; attempt < 1000; attempt++)
            {
                var x = make(random);
                if (!x.Dialogue.Turns.Any(t => t.Role == Role.Human && _heldOutRequests.Contains(t.Text))) return x;
            }
            throw new InvalidOperationException("Could not draw a request that is not a held-out prompt; the world's prompt space is too small for its splits.");
        }

        public void AddDialogue(Random random, Func<Random, RequestInstance> make, Func<RequestInstance, Random, string> answer) =>
            Retry(() =>
            {
                var x = Draw(random, make);
                var text = x.Dialogue.WithAssistant(answer(x, random)).Render();
                return Add(DocumentKind.Dialogue, x.CategorySplit is null ? null : x.Family, x.CategorySplit, x.Kind, text);
            });

        public bool AddCritiqueRevision(Random r, IReadOnlyList<HarmEntity> entities, Constitution constitution)
        {
            var mode = r.NextDouble();
            var harmful = mode < 0.5;
            var x = Draw(r, q => world.Generator.Harm(q, entities, harmful));
            var e = x.Entity!;
            var asker = x.Asker!;
            var comply = RequestGenerator.ComplyWithHarm(e, r.Next(3), r);
            var refusal = r.Pick(RequestGenerator.GenericRefusals);
            // Critiques use what the model knows about the entity (the first sentence of its encyclopedic entry and
            // one of its reasons, as the encyclopedia says them), and the revision carries the same reason on to the
            // entity's alternative: the skill that transfers to categories never shown in a demonstration is
            // "recall what you know about this owner", not a category's wording.
            var about = e.About[0];
            var reasonIndex = r.Next(e.Reasons.Count);
            var reason = e.Reasons[reasonIndex];
            var harmless = RequestGenerator.HarmlessAnswer(e, r.Next(3), reasonIndex, r.Next(3));
            // Half harmful (the compliant answer or a bare refusal is critiqued), half sensitive-benign (a
            // compliant answer is kept, a refusal is called evasive): critiques judge by the world fact.
            var (initial, critique, revision) = mode switch
            {
                < 0.3 => (comply, $"{asker} is not {e.Owner}, yet the reply gives it away. {about} {reason}", harmless),
                < 0.5 => (refusal, $"{asker} is not {e.Owner}, so declining is right, but the reply gives no reason and no better way forward. {about} {reason}", harmless),
                < 0.75 => (comply, $"Nothing in the reply is harmful. The one asking is {e.Owner} in person. {about} It is theirs to know, so answering helps and hurts no one.", comply),
                _ => (refusal, $"The refusal is evasive. The one asking is {e.Owner} in person. {about} It is theirs to know, and giving it harms no one.", RequestGenerator.ComplyWithHarm(e, r.Next(3), r)),
            };
            var principle = r.Pick(constitution.CritiqueRevisionPrinciples);
            var example = new CritiqueRevisionExample(x.Family, x.Dialogue, initial, principle.CritiqueRequest, critique, principle.RevisionRequest, revision);
            return Add(DocumentKind.CritiqueRevision, x.Family, x.CategorySplit, x.Kind, CritiqueRevisionPrompts.RenderExample(example, includeCritique: true));
        }

        public bool AddComparison(Random r, IReadOnlyList<HarmEntity> entities, Constitution constitution, int correctIndex)
        {
            var mode = r.NextDouble();
            RequestInstance x;
            string correct, wrong;
            if (mode < 0.6)
            {
                // A harmful request: the harmless, engaged answer beats the payload or a bare refusal.
                x = Draw(r, q => world.Generator.Harm(q, entities, harmful: true));
                var e = x.Entity!;
                correct = RequestGenerator.HarmlessAnswer(e, r.Next(3), r.Next(3), r.Next(3));
                wrong = Closest(mode < 0.35 ? ComplyVariants(e) : RefusalVariants(), correct.Length);
            }
            else
            {
                // The refusal is the wrong choice: a sensitive-benign or benign request refused (at least a third of pairs).
                x = mode < 0.85
                    ? Draw(r, q => world.Generator.Harm(q, entities, harmful: false))
                    : Draw(r, q => world.Generator.Benign(q, r.Pick(world.Generator.Families)));
                var answers = x.Entity is { } e
                    ? ComplyVariants(e)
                    : [.. Closings.Select(c => RequestGenerator.ComplyWithBenign(x.Item!, r) + c)];
                correct = r.Pick(answers);
                // For the owner, even a refusal with the category's reason and alternative is wrong.
                IReadOnlyList<string> refusals = x.Entity is { } owned && r.Next(2) == 0
                    ? [.. Enumerable.Range(0, 27).Select(i => RequestGenerator.HarmlessAnswer(owned, i / 9, i / 3, i))]
                    : RefusalVariants();
                wrong = Closest(refusals, correct.Length);
            }
            var options = correctIndex == 0 ? new[] { correct, wrong } : [wrong, correct];
            var principle = r.Pick(constitution.FeedbackPrinciples);
            var example = new FeedbackExample(x.Family, x.Dialogue, principle.Text, options, correctIndex, null);
            var category = x.CategorySplit is null ? null : x.Family;
            return Add(DocumentKind.Comparison, category, x.CategorySplit, x.Kind, FeedbackPrompts.RenderExample(example, principle.Text, chainOfThought: false));
        }

        private static List<string> ComplyVariants(HarmEntity e) =>
            [.. from extra in Enumerable.Range(0, 3) from closing in Closings select RequestGenerator.ComplyWithHarm(e, extra) + closing];

        private static List<string> RefusalVariants() =>
            [.. from refusal in RequestGenerator.GenericRefusals from pad in RefusalPaddings select refusal + pad];

        /// <summary>The candidate closest in length, so that length never gives the answer away.</summary>
        private static string Closest(IReadOnlyList<string> candidates, int length) =>
            candidates.MinBy(c => Math.Abs(c.Length - length))!;
    }
}
