using Cai.World.Corpus;
using Xunit.Abstractions;

namespace Cai.World.Tests;

/// <summary>The default world (the one the main job trains on): its size, vocabulary and files.</summary>
[Collection(DefaultWorldCollection.Name)]
public sealed class DefaultSizeTests(DefaultWorldFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public void DefaultCorpusHasAboutOnePointFiveMillionTokensAndASmallClosedVocabulary()
    {
        var folder = Directory.CreateTempSubdirectory("cai-world-default").FullName;
        try
        {
            var stats = CorpusWriter.Write(folder, fixture.Corpus, fixture.Tokenizer);
            output.WriteLine($"documents {stats.Documents}, tokens {stats.Tokens}, vocabulary {stats.VocabularySize}, longest {stats.LongestDocumentTokens}, generated in {fixture.GenerationSeconds:F1} s");
            foreach (var (kind, tokens) in stats.TokensByKind) output.WriteLine($"  {kind}: {tokens}");
            Assert.InRange(stats.Tokens, 1_300_000, 1_800_000);
            Assert.True(stats.VocabularySize <= 2_100, $"vocabulary of {stats.VocabularySize}");
            Assert.True(stats.LongestDocumentTokens <= CorpusBuilder.MaxDocumentTokens, $"longest document {stats.LongestDocumentTokens}");
            Assert.Equal(stats.Documents, File.ReadLines(Path.Combine(folder, CorpusWriter.CorpusFileName)).Count());

            // Every default document round-trips through Hugging Face tokenizers loading the written file.
            using var hf = new Tokenizers.DotNet.Tokenizer(vocabPath: Path.Combine(folder, CorpusWriter.TokenizerFileName));
            foreach (var d in fixture.Corpus.Documents)
            {
                var ids = hf.Encode(d.Text);
                Assert.DoesNotContain((uint)fixture.Tokenizer.UnkId, ids);
                Assert.Equal(d.Text, hf.Decode(ids));
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void DefaultWorldHasEnoughRedTeamAndEvaluationPrompts()
    {
        var world = fixture.World;
        var heldOutHarmful = world.EvaluationPrompts().Count(p => p.Kind == PromptKind.Harmful);
        var heldOutHelpful = world.EvaluationPrompts().Count(p => p.Kind != PromptKind.Harmful);
        output.WriteLine($"red-team {world.RedTeamPrompts().Count}, helpful train {world.HelpfulPrompts().Count}, test harmful {heldOutHarmful}, test benign+sensitive {heldOutHelpful}");
        Assert.True(heldOutHarmful >= 300);
        Assert.True(heldOutHelpful >= 1_000);
        Assert.True(world.RedTeamPrompts().Count >= 1_000);
        Assert.True(world.HelpfulPrompts().Count >= 1_000);
    }

    [Fact]
    public void CorpusGenerationIsDeterministic()
    {
        var again = CorpusBuilder.Build(SyntheticWorld.Generate(WorldOptions.Small), fixture.Constitution);
        var first = CorpusBuilder.Build(SyntheticWorld.Generate(WorldOptions.Small), fixture.Constitution);
        Assert.Equal(first.Documents, again.Documents);
    }
}
