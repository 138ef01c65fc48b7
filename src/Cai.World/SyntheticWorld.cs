namespace Cai.World;

/// <summary>A harm category as later stages see it: its name, its split and what is at stake.</summary>
public sealed record HarmCategory(string Name, CategorySplit Split, string Noun);

/// <summary>The embedded default world (DESIGN.md, "The embedded default"): benign requests with checkable
/// answers, 12 harm categories with harmful and sensitive-but-benign requests, and their splits. Generated
/// by seeded code: the same <see cref="WorldOptions"/> always give the same world.
/// <para>The world's rule of harm: every harm-category entity (a house, an account, a lab) has an owner or keeper
/// and a secret (the payload). A request for the secret is harmful when the person asking, who introduces
/// themselves in the request or an earlier turn, is someone else, and sensitive-but-benign when it is the owner.
/// Both use the same phrasings, so only that fact separates them.</para></summary>
public sealed class SyntheticWorld
{
    private readonly List<WorldPrompt> _prompts;
    private readonly Dictionary<string, WorldPrompt> _byId;

    public WorldOptions Options { get; }
    public IReadOnlyList<HarmCategory> Categories { get; }
    public IReadOnlyList<string> BenignFamilies { get; }
    /// <summary>Every prompt of the world (benign, sensitive-benign and harmful; all splits).</summary>
    public IReadOnlyList<WorldPrompt> Prompts => _prompts;

    internal WorldTables Tables { get; }
    internal RequestGenerator Generator { get; }
    internal IReadOnlyList<CategorySpec> Specs { get; }
    internal IReadOnlyDictionary<string, IReadOnlyList<HarmEntity>> Entities { get; }

    private SyntheticWorld(WorldOptions options, WorldTables tables, RequestGenerator generator,
        IReadOnlyList<CategorySpec> specs, IReadOnlyDictionary<string, IReadOnlyList<HarmEntity>> entities, List<WorldPrompt> prompts)
    {
        Options = options;
        Tables = tables;
        Generator = generator;
        Specs = specs;
        Entities = entities;
        _prompts = prompts;
        _byId = prompts.ToDictionary(p => p.Id, StringComparer.Ordinal);
        Categories = specs.Select(s => new HarmCategory(s.Name, s.Split, s.Noun)).ToList();
        BenignFamilies = generator.Families.Select(f => f.Name).ToList();
    }

    /// <summary>Generates the world from <paramref name="options"/> (defaults when null).</summary>
    public static SyntheticWorld Generate(WorldOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new WorldOptions();
        options.Validate();
        var specs = HarmCategories.Create();
        var tables = new WorldTables(new Random(options.Seed), specs.Count * options.EntitiesPerCategory * 2 + 80);
        var families = global::Cai.World.BenignFamilies.Create(tables);
        var generator = new RequestGenerator(tables, families, options.MultiTurnFraction);

        var entityRandom = new Random(unchecked(options.Seed * 31 + 1));
        var entities = specs.ToDictionary(s => s.Name,
            s => HarmCategories.CreateEntities(s, tables, entityRandom, options.EntitiesPerCategory));

        var promptRandom = new Random(unchecked(options.Seed * 31 + 2));
        var prompts = new List<WorldPrompt>();
        foreach (var family in families)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var made = Unique(r => generator.Benign(r, family), promptRandom, options.BenignPromptsPerFamily, family.Name);
            prompts.AddRange(Split(made, options, promptRandom, $"{family.Name}/benign"));
        }
        foreach (var spec in specs)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var pool = entities[spec.Name];
            var harmful = Unique(r => generator.Harm(r, pool, harmful: true), promptRandom, options.HarmfulPromptsPerCategory, spec.Name);
            prompts.AddRange(Split(harmful, options, promptRandom, $"{spec.Name}/harmful"));
            var sensitive = Unique(r => generator.Harm(r, pool, harmful: false), promptRandom, options.SensitivePromptsPerCategory, spec.Name);
            prompts.AddRange(Split(sensitive, options, promptRandom, $"{spec.Name}/sensitive"));
        }
        return new SyntheticWorld(options, tables, generator, specs, entities, prompts);
    }

    /// <summary>Prompts filtered by any combination of split, kind, family (category or benign family name)
    /// and category split.</summary>
    public IEnumerable<WorldPrompt> GetPrompts(PromptSplit? split = null, PromptKind? kind = null,
        string? family = null, CategorySplit? categorySplit = null) =>
        _prompts.Where(p => (split is null || p.Split == split)
            && (kind is null || p.Kind == kind)
            && (family is null || p.Family == family)
            && (categorySplit is null || p.CategorySplit == categorySplit));

    /// <summary>The prompt with this id (ids are stable for a given <see cref="WorldOptions"/>), so that stages
    /// exchanging ids can find the prompt again from the seed.</summary>
    /// <exception cref="KeyNotFoundException">No prompt has this id.</exception>
    public WorldPrompt GetPrompt(string id) =>
        _byId.TryGetValue(id, out var prompt) ? prompt : throw new KeyNotFoundException($"the world (seed {Options.Seed}) has no prompt '{id}'");

    /// <summary>Red-team prompts for both CAI phases: the train prompts of every harm category (harmful and
    /// sensitive-benign alike, as red-teamers' attempts are). Harmless answers to them never exist in the corpus
    /// for dev and test categories.</summary>
    /// <param name="includeSensitiveBenign">False keeps only the harmful requests.</param>
    public IReadOnlyList<WorldPrompt> RedTeamPrompts(bool includeSensitiveBenign = true) =>
        _prompts.Where(p => p.Split == PromptSplit.Train
            && (p.Kind == PromptKind.Harmful || (includeSensitiveBenign && p.Kind == PromptKind.SensitiveBenign))).ToList();

    /// <summary>Helpfulness prompts (benign requests) of a split: mixed into SFT and PM training so the
    /// policy stays helpful.</summary>
    public IReadOnlyList<WorldPrompt> HelpfulPrompts(PromptSplit split = PromptSplit.Train) =>
        _prompts.Where(p => p.Split == split && p.Kind == PromptKind.Benign).ToList();

    /// <summary>
    /// Helpfulness comparisons, the world's stand-in for the human helpfulness labels the paper mixes into PM
    /// training: for a seeded sample of train benign prompts, the world's reference answer (chosen) against either a
    /// bare refusal or the reference answer of another prompt (rejected, half each). Only benign prompts appear, so
    /// these say nothing about harm categories.
    /// </summary>
    public IReadOnlyList<HelpfulnessComparison> HelpfulnessComparisons(int count, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var pool = _prompts.Where(p => p.Split == PromptSplit.Train && p.Kind == PromptKind.Benign).ToList();
        if (pool.Count < 2 || count == 0) return [];
        var random = new Random(seed);
        var result = new List<HelpfulnessComparison>(count);
        for (int i = 0; i < count; i++)
        {
            var prompt = pool[random.Next(pool.Count)];
            string rejected;
            if (random.Next(2) == 0)
            {
                rejected = RequestGenerator.GenericRefusals[random.Next(RequestGenerator.GenericRefusals.Length)];
            }
            else
            {
                var other = pool[random.Next(pool.Count)];
                rejected = other.Truth.ReferenceAnswer == prompt.Truth.ReferenceAnswer
                    ? RequestGenerator.GenericRefusals[random.Next(RequestGenerator.GenericRefusals.Length)]
                    : other.Truth.ReferenceAnswer;
            }
            result.Add(new HelpfulnessComparison(prompt.Id, prompt.Dialogue, prompt.Truth.ReferenceAnswer, rejected));
        }
        return result;
    }

    /// <summary>Held-out evaluation prompts of a split (dev to tune, test to report), all kinds.</summary>
    public IReadOnlyList<WorldPrompt> EvaluationPrompts(PromptSplit split = PromptSplit.Test)
    {
        if (split == PromptSplit.Train)
            throw new ArgumentException("Evaluation prompts come from the dev or test split.", nameof(split));
        return _prompts.Where(p => p.Split == split).ToList();
    }

    private static List<RequestInstance> Unique(Func<Random, RequestInstance> make, Random random, int count, string name)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<RequestInstance>(count);
        for (var attempt = 0; result.Count < count; attempt++)
        {
            if (attempt > count * 50)
                throw new InvalidOperationException($"'{name}' cannot yield {count} distinct prompts; lower the prompt count in WorldOptions.");
            var instance = make(random);
            if (seen.Add(instance.Text)) result.Add(instance);
        }
        return result;
    }

    private static IEnumerable<WorldPrompt> Split(List<RequestInstance> instances, WorldOptions options, Random random, string idPrefix)
    {
        WorldTables.Shuffle(random, instances);
        var dev = Math.Max(1, (int)Math.Round(instances.Count * options.DevFraction));
        var test = Math.Max(1, (int)Math.Round(instances.Count * options.TestFraction));
        for (var i = 0; i < instances.Count; i++)
        {
            var x = instances[i];
            var split = i < dev ? PromptSplit.Dev : i < dev + test ? PromptSplit.Test : PromptSplit.Train;
            yield return new WorldPrompt
            {
                Id = $"{idPrefix}/{i:D4}",
                Kind = x.Kind,
                Family = x.Family,
                CategorySplit = x.CategorySplit,
                Split = split,
                Dialogue = x.Dialogue,
                Truth = x.Truth,
            };
        }
    }
}

/// <summary>A helpfulness comparison of the world: the <paramref name="Chosen"/> answer to <paramref name="Prompt"/> is better than <paramref name="Rejected"/>.</summary>
public sealed record HelpfulnessComparison(string PromptId, Cai.Core.Dialogues.Dialogue Prompt, string Chosen, string Rejected);
