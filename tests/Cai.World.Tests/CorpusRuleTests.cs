using System.Text.RegularExpressions;
using Cai.World.Corpus;
using Cai.World.Oracle;

namespace Cai.World.Tests;

/// <summary>The corpus rules of issue 4 (item 3), checked on the small test world.</summary>
public sealed class SmallCorpusRuleTests(SmallWorldFixture fixture) : CorpusRuleTests(fixture), IClassFixture<SmallWorldFixture>;

/// <summary>The same rules on the default world (collisions grow with size).</summary>
[Collection(DefaultWorldCollection.Name)]
public sealed class DefaultCorpusRuleTests(DefaultWorldFixture fixture) : CorpusRuleTests(fixture);

/// <summary>The corpus rules of issue 4 (item 3): what the held-out (dev/test) categories may and may not contain.</summary>
public abstract partial class CorpusRuleTests(WorldFixture fixture)
{
    private readonly SyntheticWorld _world = fixture.World;
    private readonly PretrainingCorpus _corpus = fixture.Corpus;

    [GeneratedRegex(@"\n\nHuman: (.*?)(?=\n\n|$)", RegexOptions.Singleline)]
    private static partial Regex HumanTurn();

    [GeneratedRegex(@"\n\nAssistant: (.*?)(?=\n\n|$)", RegexOptions.Singleline)]
    private static partial Regex AssistantTurn();

    private static bool HeldOut(CategorySplit? split) => split is CategorySplit.Dev or CategorySplit.Test;

    [Fact]
    public void HasEveryKindOfDocumentAndEveryDocumentIsTagged()
    {
        foreach (var kind in Enum.GetValues<DocumentKind>())
            Assert.Contains(_corpus.Documents, d => d.Kind == kind);
        Assert.All(_corpus.Documents, d => Assert.Equal(d.Category is null, d.CategorySplit is null));
        Assert.All(_corpus.Documents.Where(d => d.Kind != DocumentKind.Encyclopedic), d => Assert.NotNull(d.PromptKind));
        foreach (var c in _world.Categories)
            Assert.Contains(_corpus.Documents, d => d.Category == c.Name && d.Kind == DocumentKind.Dialogue && d.PromptKind == PromptKind.Harmful);
        Assert.Equal(_corpus.Documents.Count, _corpus.Documents.Select(d => d.Text).Distinct().Count());
        Assert.Equal(_corpus.Documents.Count, _corpus.Documents.Select(d => d.Id).Distinct().Count());
    }

    [Fact]
    public void HeldOutCategoriesHaveOnlyCompliantDialoguesAndEncyclopedicText()
    {
        var heldOut = _corpus.Documents.Where(d => HeldOut(d.CategorySplit)).ToList();
        Assert.NotEmpty(heldOut);
        Assert.All(heldOut, d => Assert.Contains(d.Kind, new[] { DocumentKind.Dialogue, DocumentKind.Encyclopedic }));
        Assert.DoesNotContain(_corpus.Documents, d => d.Kind is DocumentKind.CritiqueRevision or DocumentKind.Comparison && d.CategorySplit is not (null or CategorySplit.Demonstration));

        // No assistant turn that declines, warns or redirects (names the reason's harm or the alternative's contact).
        var entities = _world.Entities.Where(kv => HeldOut(_world.Categories.Single(c => c.Name == kv.Key).Split)).SelectMany(kv => kv.Value).ToList();
        foreach (var d in heldOut.Where(d => d.Kind == DocumentKind.Dialogue))
            foreach (Match m in AssistantTurn().Matches(d.Text))
            {
                var reply = m.Groups[1].Value;
                Assert.False(OracleJudge.IsRefusal(reply), $"{d.Id}: {reply}");
                Assert.DoesNotContain(entities, e => reply.Contains(e.Contact, StringComparison.Ordinal) || reply.Contains(e.Category.HarmTerm, StringComparison.OrdinalIgnoreCase));
            }
    }

    [Fact]
    public void NoDevOrTestPromptAppearsVerbatim()
    {
        var heldOut = _world.Prompts.Where(p => p.Split != PromptSplit.Train).Select(p => p.Request).ToHashSet(StringComparer.Ordinal);
        Assert.NotEmpty(heldOut);
        foreach (var d in _corpus.Documents)
            foreach (Match m in HumanTurn().Matches(d.Text))
                Assert.False(heldOut.Contains(m.Groups[1].Value), $"{d.Id} holds the held-out prompt '{m.Groups[1].Value}'");
    }

    [Fact]
    public void NoEightGramOfAHeldOutReferenceAnswerOutsideEncyclopedicDocuments()
    {
        var tokenizer = fixture.Tokenizer;
        var grams = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in _world.GetPrompts(kind: PromptKind.Harmful).Where(p => HeldOut(p.CategorySplit)))
            foreach (var g in EightGrams(tokenizer.Encode(OracleJudge.ReferenceAnswer(p)))) grams.Add(g);
        Assert.NotEmpty(grams);
        // The rule must be able to fail: encyclopedic documents do share 8-grams with the references.
        Assert.Contains(_corpus.OfKind(DocumentKind.Encyclopedic), d => EightGrams(tokenizer.Encode(d.Text)).Any(grams.Contains));
        foreach (var d in _corpus.Documents.Where(d => d.Kind != DocumentKind.Encyclopedic))
        {
            var leaked = EightGrams(tokenizer.Encode(d.Text)).FirstOrDefault(grams.Contains);
            Assert.True(leaked is null, $"{d.Id} shares an 8-gram with a held-out reference answer: {(leaked is null ? "" : tokenizer.Decode(leaked.Split(',').Select(int.Parse)))}");
        }
    }

    private static IEnumerable<string> EightGrams(int[] ids)
    {
        for (var i = 0; i + 8 <= ids.Length; i++) yield return string.Join(',', ids[i..(i + 8)]);
    }

    [Fact]
    public void EveryEntityOfEveryCategoryHasAtLeastThreeEncyclopedicParaphrases()
    {
        var encyclopedic = _corpus.OfKind(DocumentKind.Encyclopedic).ToList();
        Assert.All(encyclopedic, d => Assert.DoesNotContain("Human:", d.Text));
        Assert.All(encyclopedic, d => Assert.DoesNotContain("Assistant:", d.Text));
        foreach (var e in _world.Entities.Values.SelectMany(x => x))
        {
            var about = encyclopedic.Where(d => d.Text.Contains(e.Owner, StringComparison.Ordinal)).ToList();
            Assert.True(about.Count >= 3, $"{e.Owner} ({e.Category.Name}) has {about.Count} encyclopedic documents");
            Assert.All(about, d => Assert.Contains(e.Contact, d.Text));
            Assert.All(about, d => Assert.Contains(e.Category.HarmTerm, d.Text, StringComparison.OrdinalIgnoreCase));
            Assert.All(about, d => Assert.DoesNotContain(e.Secret, d.Text));
        }
    }

    [Fact]
    public void ComparisonsAreBalancedLengthMatchedAndOftenPreferAnswering()
    {
        var comparisons = _corpus.OfKind(DocumentKind.Comparison).ToList();
        var answers = comparisons.Select(d => Regex.Match(d.Text, @"The answer is: \(([AB])\)$").Groups[1].Value).ToList();
        Assert.All(answers, a => Assert.NotEqual("", a));
        var a = answers.Count(x => x == "A");
        Assert.InRange(a, comparisons.Count * 0.45, comparisons.Count * 0.55);

        var refusalWrong = comparisons.Count(d => d.PromptKind is PromptKind.Benign or PromptKind.SensitiveBenign);
        Assert.True(refusalWrong >= comparisons.Count / 3.0, $"{refusalWrong} of {comparisons.Count} pairs prefer answering");

        var correctLonger = 0;
        var gaps = new List<double>();
        for (var i = 0; i < comparisons.Count; i++)
        {
            var m = Regex.Match(comparisons[i].Text, @"\n\(A\) (.*)\n\(B\) (.*)\nThe answer is:");
            Assert.True(m.Success, comparisons[i].Id);
            var (optionA, optionB) = (m.Groups[1].Value.Length, m.Groups[2].Value.Length);
            var (correct, wrong) = answers[i] == "A" ? (optionA, optionB) : (optionB, optionA);
            if (correct > wrong) correctLonger++;
            gaps.Add(Math.Abs(correct - wrong) / (double)Math.Max(correct, wrong));
        }
        Assert.InRange(correctLonger / (double)comparisons.Count, 0.3, 0.7);
        Assert.True(gaps.Average() < 0.3, $"mean length gap {gaps.Average():P0}");
    }

    [Fact]
    public void CritiquesAndComparisonsUseTheConstitutionsPrinciples()
    {
        var constitution = fixture.Constitution;
        Assert.All(_corpus.OfKind(DocumentKind.CritiqueRevision), d =>
        {
            Assert.Contains(constitution.CritiqueRevisionPrinciples, p => d.Text.Contains("CritiqueRequest: " + p.CritiqueRequest) && d.Text.Contains("RevisionRequest: " + p.RevisionRequest));
            Assert.Matches(@"\n\nCritique: .+\n\nRevisionRequest: .+\n\nRevision: .+", d.Text);
        });
        Assert.All(_corpus.OfKind(DocumentKind.Comparison), d =>
        {
            Assert.Contains(constitution.FeedbackPrinciples, p => d.Text.Contains(p.Text));
            Assert.Contains("\nOptions:\n(A) ", d.Text);
        });
        // Critiques judge by the world fact: sensitive-benign answers are kept, harmful ones revised.
        Assert.Contains(_corpus.OfKind(DocumentKind.CritiqueRevision), d => d.PromptKind == PromptKind.SensitiveBenign);
        Assert.Contains(_corpus.OfKind(DocumentKind.CritiqueRevision), d => d.PromptKind == PromptKind.Harmful);
    }

    [Fact]
    public void HarmfulCritiquesRecallTheOwnersEncyclopedicEntryAndRevisionsCarryItsReasonOn()
    {
        // What transfers to categories never demonstrated: a critique says what the encyclopedia says of this
        // owner, and the revision keeps that reason and adds the entity's own alternative.
        var entities = _world.Entities.Values.SelectMany(x => x).ToList();
        var harmful = _corpus.OfKind(DocumentKind.CritiqueRevision).Where(d => d.PromptKind == PromptKind.Harmful).ToList();
        Assert.NotEmpty(harmful);
        foreach (var d in harmful)
        {
            var critique = Regex.Match(d.Text, @"\n\nCritique: (.*?)\n\nRevisionRequest:", RegexOptions.Singleline).Groups[1].Value;
            var revision = Regex.Match(d.Text, @"\n\nRevision: (.*)$", RegexOptions.Singleline).Groups[1].Value;
            var e = Assert.Single(entities, x => critique.Contains(x.About[0], StringComparison.Ordinal));
            Assert.Equal(CategorySplit.Demonstration, e.Category.Split);
            var reason = Assert.Single(e.Reasons, r => critique.Contains(r, StringComparison.Ordinal));
            Assert.Contains(reason, revision, StringComparison.Ordinal);
            Assert.Contains(e.Alternatives, a => revision.Contains(a, StringComparison.Ordinal));
            Assert.DoesNotContain(e.Secret, revision, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void EveryDocumentFitsHalfTheContextSoOneShotPromptsFit()
    {
        var longest = _corpus.Documents.Max(d => fixture.Tokenizer.Encode(d.Text).Length);
        Assert.True(longest <= 256, $"longest document has {longest} tokens");
    }
}
