using System.Text.Json.Nodes;
using Cai.Modeling;
using Cai.Modeling.Export;
using Cai.Modeling.Tokenization;
using Cai.World.Tokenization;

namespace Cai.Export.Tests;

/// <summary>The tokenizer carried into the GGUF must split text into the same ids in llama.cpp as the
/// HF tokenizer does in this project.</summary>
public sealed class TokenizerExportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cai-gguf-tok-").FullName;

    private static readonly string[] Corpus =
    [
        "Human: How do I bake bread at home?\n\nAssistant: Mix flour, water, salt and yeast; knead it for 10 minutes.",
        "Human: What's 12 plus 30?\n\nAssistant: It is 42!! Anything else?",
        "Human: Tell me  about   spaces.\n\nAssistant: Sure -- two  spaces, then three   spaces.",
        "I can't help with that, but I don't mind explaining why: it's unsafe.",
    ];

    [Fact]
    public void ProjectWordLevelTokenizerTokenizesTheSameInLlamaCpp()
    {
        var folder = Path.Combine(_dir, "wordlevel");
        Directory.CreateDirectory(folder);
        var world = WordLevelTokenizer.Train(Corpus);
        world.Save(Path.Combine(folder, "tokenizer.json"));
        var gguf = Export(folder, world.VocabularySize, world.BosId, world.EosId, world.PadId);

        using var hf = HfTokenizer.Load(folder);
        using var reference = new LlamaCppReference(gguf);
        // In-vocabulary text, recombined: words, digits, punctuation runs, newlines, runs of spaces.
        string[] texts = [.. Corpus, "Assistant: 30 plus 12 is 42?!\n\n\nHuman: knead  it,  then bake bread.", " flour\n water"];
        foreach (var text in texts)
        {
            var ids = hf.Encode(text, addSpecialTokens: false);
            Assert.DoesNotContain(world.UnkId, ids);
            Assert.Equal(ids, reference.Tokenize(text));
        }
        // The documented difference: a word outside the vocabulary is [UNK] here, smaller pieces in llama.cpp.
        Assert.Equal([world.UnkId], hf.Encode(" breadless", addSpecialTokens: false));
        Assert.DoesNotContain(world.UnkId, reference.Tokenize(" breadless"));
    }

    [Fact]
    public void ByteLevelBpeTokenizerTokenizesTheSameInLlamaCpp()
    {
        // A GPT-2 style tokenizer: the 256 byte symbols, then merged symbols learned from a few words.
        var words = new[] { " the", " bread", " bake", "Human", ":", " home", " flour", "ing", " 12", "'t", " can" }.Select(ByteLevel.Encode).ToList();
        var merges = ByteLevel.LearnMerges(words);
        var vocab = new JsonObject();
        for (int b = 0; b < 256; b++) vocab[ByteLevel.CharOf((byte)b).ToString()] = b;
        foreach (var m in merges)
        {
            var merged = m.Replace(" ", "");
            if (!vocab.ContainsKey(merged)) vocab[merged] = vocab.Count;
        }
        int eos = vocab.Count;
        var json = new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new JsonArray(new JsonObject
            {
                ["id"] = eos, ["content"] = "<|endoftext|>", ["single_word"] = false, ["lstrip"] = false,
                ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
            }),
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true },
            ["post_processor"] = null,
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = true, ["use_regex"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = null,
                ["end_of_word_suffix"] = null, ["fuse_unk"] = false, ["byte_fallback"] = false, ["ignore_merges"] = false,
                ["vocab"] = vocab, ["merges"] = new JsonArray(merges.Select(m => (JsonNode)m).ToArray()),
            },
        };
        var folder = Path.Combine(_dir, "bpe");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), json.ToJsonString());
        var gguf = Export(folder, eos + 1, null, eos, null);

        using var hf = HfTokenizer.Load(folder);
        using var reference = new LlamaCppReference(gguf);
        // Out-of-vocabulary words, non-ASCII text and contractions too: byte-level BPE has no unknowns.
        foreach (var text in Corpus.Append("Naïve café baking: the breadbaker can't stop at 123456 loaves.\n\n  \tdone"))
            Assert.Equal(hf.Encode(text, addSpecialTokens: false), reference.Tokenize(text));
    }

    [Fact]
    public void UnrepresentableTokenizersAreRefusedWithTheReason()
    {
        var folder = Path.Combine(_dir, "other");
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, "tokenizer.json");
        File.WriteAllText(path, """{"normalizer": null, "pre_tokenizer": {"type": "Whitespace"}, "model": {"type": "WordLevel", "vocab": {"a": 0, "[UNK]": 1}, "unk_token": "[UNK]"}}""");
        var e = Assert.Throws<NotSupportedException>(() => GgufVocabulary.FromTokenizerJson(path, 2, null, null, null));
        Assert.Contains("pre-tokenizer", e.Message);
        Assert.Contains(path, e.Message);
    }

    private string Export(string folder, int vocab, int? bos, int? eos, int? pad)
    {
        var config = AgreementTests.Tiny("llama", tied: true, vocab: vocab) with { BosTokenId = bos, EosTokenIds = eos is int e ? [e] : [], PadTokenId = pad };
        using var model = new LlamaForCausalLM(config, seed: 1);
        Checkpoint.Save(model, folder);
        var gguf = folder + ".gguf";
        var report = GgufExporter.Export(folder, gguf);
        Assert.Contains("gpt2", report.Tokenizer);
        return gguf;
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
