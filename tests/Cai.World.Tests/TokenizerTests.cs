using Cai.World.Corpus;
using Cai.World.Tokenization;

namespace Cai.World.Tests;

public sealed class TokenizerTests(SmallWorldFixture fixture) : IClassFixture<SmallWorldFixture>
{
    private readonly WordLevelTokenizer _tokenizer = fixture.Tokenizer;

    [Fact]
    public void KeepsSpacesWithWordsAndSplitsDigitsAndNewlines()
    {
        Assert.Equal(["\n", "\n", "Human", ":", " What", " is", " 4", "7", "?"], WordLevelTokenizer.Split("\n\nHuman: What is 47?"));
        foreach (var token in Enumerable.Range(0, 10).SelectMany(d => new[] { $"{d}", $" {d}" }).Append("\n"))
            Assert.True(_tokenizer.TryGetId(token, out _), $"'{token}' is not a token");
        Assert.Equal(_tokenizer.UnkId, _tokenizer.Encode(" Zyzzyva").Single());
    }

    [Fact]
    public void SavedFileIsAHuggingFaceTokenizerThatRoundTripsEveryDocumentAndPrompt()
    {
        var folder = Directory.CreateTempSubdirectory("cai-world-tok").FullName;
        try
        {
            var path = Path.Combine(folder, "tokenizer.json");
            _tokenizer.Save(path);
            using var hf = new Tokenizers.DotNet.Tokenizer(vocabPath: path);
            var texts = fixture.Corpus.Documents.Select(d => d.Text).Concat(fixture.World.Prompts.Select(p => p.Text)).ToList();
            foreach (var text in texts)
            {
                var ids = hf.Encode(text);
                Assert.DoesNotContain((uint)_tokenizer.UnkId, ids);
                Assert.Equal(text, hf.Decode(ids));
                Assert.Equal(_tokenizer.Encode(text), ids.Select(i => (int)i));
            }
            var reloaded = WordLevelTokenizer.Load(path);
            Assert.Equal(_tokenizer.Tokens, reloaded.Tokens);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void PureEncoderRoundTrips()
    {
        foreach (var d in fixture.Corpus.Documents)
        {
            var ids = _tokenizer.Encode(d.Text);
            Assert.DoesNotContain(_tokenizer.UnkId, ids);
            Assert.Equal(d.Text, _tokenizer.Decode(ids));
        }
    }

    [Fact]
    public void LoadRejectsAFileThatIsNotAWordLevelTokenizer()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, """{"model":{"type":"BPE"}}""");
            var e = Assert.Throws<InvalidDataException>(() => WordLevelTokenizer.Load(path));
            Assert.Contains("model.type", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
