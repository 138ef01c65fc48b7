namespace Cai.World.Tests;

public sealed class WorldGenerationTests(SmallWorldFixture fixture) : IClassFixture<SmallWorldFixture>
{
    private readonly SyntheticWorld _world = fixture.World;

    [Fact]
    public void SameSeedGivesSameWorldAndOtherSeedDoesNot()
    {
        var again = SyntheticWorld.Generate(WorldOptions.Small);
        var other = SyntheticWorld.Generate(WorldOptions.Small with { Seed = 7 });
        Assert.Equal(_world.Prompts.Select(p => (p.Id, p.Text, p.Split)), again.Prompts.Select(p => (p.Id, p.Text, p.Split)));
        Assert.NotEqual(_world.Prompts.Select(p => p.Text), other.Prompts.Select(p => p.Text));
    }

    [Fact]
    public void HasTwentyBenignFamiliesAndTwelveCategoriesSplitSixThreeThree()
    {
        Assert.True(_world.BenignFamilies.Count >= 20, $"{_world.BenignFamilies.Count} families");
        Assert.Equal(12, _world.Categories.Count);
        Assert.Equal(6, _world.Categories.Count(c => c.Split == CategorySplit.Demonstration));
        Assert.Equal(3, _world.Categories.Count(c => c.Split == CategorySplit.Dev));
        Assert.Equal(3, _world.Categories.Count(c => c.Split == CategorySplit.Test));
    }

    [Fact]
    public void EveryCategoryAndFamilyHasTrainDevAndTestPromptsOfEachKind()
    {
        foreach (var c in _world.Categories)
            foreach (var kind in new[] { PromptKind.Harmful, PromptKind.SensitiveBenign })
                foreach (var split in Enum.GetValues<PromptSplit>())
                    Assert.True(_world.GetPrompts(split, kind, c.Name).Any(), $"{c.Name} {kind} {split}");
        foreach (var f in _world.BenignFamilies)
            foreach (var split in Enum.GetValues<PromptSplit>())
                Assert.True(_world.GetPrompts(split, PromptKind.Benign, f).Any(), $"{f} {split}");
        Assert.Equal(_world.Prompts.Count, _world.Prompts.Select(p => p.Id).Distinct().Count());
        Assert.All(_world.Prompts.Take(100), p => Assert.Same(p, _world.GetPrompt(p.Id)));
        Assert.Contains("no-such-id", Assert.Throws<KeyNotFoundException>(() => _world.GetPrompt("no-such-id")).Message);
        Assert.Equal(_world.Prompts.Count, _world.Prompts.Select(p => p.Text).Distinct().Count());
    }

    [Fact]
    public void HasSingleAndMultiTurnPromptsEndingWithAnOpenAssistantTurn()
    {
        Assert.Contains(_world.Prompts, p => p.Dialogue.Count == 1);
        Assert.Contains(_world.Prompts, p => p.Dialogue.Count == 3 && p.Kind == PromptKind.Harmful);
        Assert.All(_world.Prompts, p => Assert.EndsWith("\n\nAssistant:", p.Text));
        Assert.All(_world.Prompts, p => Assert.StartsWith("\n\nHuman: ", p.Text));
    }

    [Fact]
    public void RedTeamPromptsAreTheTrainPromptsOfAllCategories()
    {
        var redTeam = _world.RedTeamPrompts();
        Assert.All(redTeam, p => Assert.Equal(PromptSplit.Train, p.Split));
        Assert.All(redTeam, p => Assert.NotNull(p.CategorySplit));
        Assert.Equal(12, redTeam.Select(p => p.Family).Distinct().Count());
        Assert.Contains(redTeam, p => p.Kind == PromptKind.SensitiveBenign);
        Assert.All(_world.RedTeamPrompts(includeSensitiveBenign: false), p => Assert.Equal(PromptKind.Harmful, p.Kind));
        Assert.Equal(_world.GetPrompts(PromptSplit.Train, PromptKind.Harmful).Count(), _world.RedTeamPrompts(false).Count);
        Assert.All(_world.HelpfulPrompts(), p => Assert.Equal(PromptKind.Benign, p.Kind));
        Assert.Throws<ArgumentException>(() => _world.EvaluationPrompts(PromptSplit.Train));
        Assert.All(_world.EvaluationPrompts(), p => Assert.Equal(PromptSplit.Test, p.Split));
    }

    [Fact]
    public void HarmfulAndSensitiveRequestsDifferByWhoAsksNotByWords()
    {
        // Mask every person's name: what is left of the two kinds' requests must use the same words.
        var names = _world.Tables.FirstNames.Concat(_world.Tables.LastNames).ToHashSet(StringComparer.Ordinal);
        HashSet<string> Words(PromptKind kind) => _world.GetPrompts(kind: kind)
            .Where(p => p.CategorySplit is not null)
            .SelectMany(p => p.Request.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(w => w.Trim('.', ',', '?', '!', '\'', 's'))
            .Where(w => w.Length > 0 && !names.Contains(w) && !_world.Tables.Towns.Any(t => t.Name == w))
            .ToHashSet(StringComparer.OrdinalIgnoreCase);
        var harmful = Words(PromptKind.Harmful);
        var sensitive = Words(PromptKind.SensitiveBenign);
        sensitive.ExceptWith(harmful);
        Assert.Equal("", string.Join(",", sensitive));
        // And the asker really is the owner exactly when the request is sensitive-benign.
        foreach (var p in _world.GetPrompts().Where(p => p.CategorySplit is not null))
        {
            var asked = string.Join(" ", p.Dialogue.Turns.Where(t => t.Role == Cai.Core.Dialogues.Role.Human).Select(t => t.Text));
            var owner = _world.Entities[p.Family].Single(e => p.Request.Contains(e.Owner, StringComparison.Ordinal)).Owner;
            var asker = System.Text.RegularExpressions.Regex.Match(asked, @"(?:I am|my name is|this is) (\w+ \w+)\.", System.Text.RegularExpressions.RegexOptions.IgnoreCase).Groups[1].Value;
            Assert.NotEqual("", asker);
            var introducesOwner = asker == owner;
            Assert.Equal(p.Kind == PromptKind.SensitiveBenign, introducesOwner);
        }
    }

    [Fact]
    public void RejectsBadOptionsNamingTheField()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => SyntheticWorld.Generate(WorldOptions.Small with { EncyclopedicParaphrases = 2 }));
        Assert.Contains("EncyclopedicParaphrases", e.Message);
        Assert.Throws<OperationCanceledException>(() => SyntheticWorld.Generate(WorldOptions.Small, new CancellationToken(true)));
    }
}
