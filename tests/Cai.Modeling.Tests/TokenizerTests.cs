using System.Text.Json.Nodes;
using Cai.Modeling.Tokenization;
using static Cai.Modeling.Tests.TestSupport;

namespace Cai.Modeling.Tests;

public class TokenizerTests
{
    internal static readonly string[] Words =
        ["Human:", "Assistant:", "hello", "world", "how", "are", "you", "?", "fine", "thanks", "I", "am", "a", "bot", "!"];

    private static JsonObject Special(int id, string content) => new()
    {
        ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = false,
        ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
    };

    /// <summary>
    /// A word-level tokenizer.json: words, runs of spaces and newlines are tokens (the Split regex
    /// keeps them), "Fuse" decoding concatenates tokens back into the exact text; BOS is added by a
    /// template post-processor. Ids: 0 pad, 1 bos, 2 eos, 3 unk, then "\n", " ", words.
    /// </summary>
    internal static string WriteWordLevel(string? dir = null, bool withConfig = true)
    {
        dir ??= TempDir();
        var vocab = new JsonObject { ["<pad>"] = 0, ["<s>"] = 1, ["</s>"] = 2, ["<unk>"] = 3, ["\n"] = 4, [" "] = 5 };
        for (int i = 0; i < Words.Length; i++) vocab[Words[i]] = 6 + i;
        var json = new JsonObject
        {
            ["version"] = "1.0", ["truncation"] = null, ["padding"] = null,
            ["added_tokens"] = new JsonArray(Special(0, "<pad>"), Special(1, "<s>"), Special(2, "</s>"), Special(3, "<unk>")),
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject
            {
                ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = "\\n| +|[^\\s?!]+|[?!]" },
                ["behavior"] = "Isolated", ["invert"] = false,
            },
            ["post_processor"] = new JsonObject
            {
                ["type"] = "TemplateProcessing",
                ["single"] = new JsonArray(new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = "<s>", ["type_id"] = 0 } },
                    new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } }),
                ["pair"] = new JsonArray(new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } },
                    new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "B", ["type_id"] = 1 } }),
                ["special_tokens"] = new JsonObject
                {
                    ["<s>"] = new JsonObject { ["id"] = "<s>", ["ids"] = new JsonArray(1), ["tokens"] = new JsonArray("<s>") },
                },
            },
            ["decoder"] = new JsonObject { ["type"] = "Fuse" },
            ["model"] = new JsonObject { ["type"] = "WordLevel", ["vocab"] = vocab, ["unk_token"] = "<unk>" },
        };
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), json.ToJsonString());
        if (withConfig)
            File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), "{\"bos_token\":\"<s>\",\"eos_token\":{\"content\":\"</s>\"},\"pad_token\":\"<pad>\"}");
        return dir;
    }

    /// <summary>GPT-2's byte-to-character table: printable bytes stand for themselves, others move above 255.</summary>
    private static Dictionary<byte, char> ByteLevelAlphabet()
    {
        var map = new Dictionary<byte, char>();
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[(byte)b] = printable ? (char)b : (char)next++;
        }
        return map;
    }

    private static string WriteByteLevelBpe()
    {
        var dir = TempDir();
        var alphabet = ByteLevelAlphabet();
        var vocab = new JsonObject();
        int id = 0;
        foreach (var c in alphabet.Values) vocab[c.ToString()] = id++;
        string[] merges = ["h e", "l l", "he ll", "hell o", "Ġ w", "Ġw o"];
        foreach (var m in merges) vocab[m.Replace(" ", "")] = id++;
        var json = new JsonObject
        {
            ["version"] = "1.0", ["truncation"] = null, ["padding"] = null,
            ["added_tokens"] = new JsonArray(Special(id, "<|endoftext|>")),
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true },
            ["post_processor"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = false, ["use_regex"] = true },
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = true, ["use_regex"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = null,
                ["end_of_word_suffix"] = null, ["fuse_unk"] = false, ["byte_fallback"] = false,
                ["vocab"] = vocab, ["merges"] = new JsonArray(merges.Select(m => (JsonNode)m).ToArray()),
            },
        };
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), json.ToJsonString());
        return dir;
    }

    [Fact]
    public void WordLevelEncodesDecodesAndKnowsItsSpecialTokens()
    {
        using var tok = HfTokenizer.Load(WriteWordLevel());
        var text = "\n\nHuman: how are you?\n\nAssistant: fine";
        var ids = tok.Encode(text);
        Assert.Equal(1, ids[0]); // BOS from the template
        Assert.Equal([4, 4, 6, 5, 10, 5, 11, 5, 12, 13, 4, 4, 7, 5, 14], ids[1..]);
        Assert.Equal(ids[1..], tok.Encode(text, addSpecialTokens: false));
        Assert.Equal(text, tok.Decode(ids)); // BOS is skipped, tokens fuse back to the exact text
        Assert.Equal((int?)1, tok.BosId);
        Assert.Equal((int?)2, tok.EosId);
        Assert.Equal((int?)0, tok.PadId);
        Assert.Equal(6 + Words.Length, tok.VocabSize);
        Assert.Equal((int?)8, tok.TokenToId("hello"));
        Assert.Equal("hello", tok.IdToToken(8));
        Assert.Null(tok.TokenToId("zebra"));
        Assert.Equal("hello world", tok.Decode([1, 8, 5, 9, 2]));
    }

    [Fact]
    public void SavesItsFilesBesideACheckpoint()
    {
        using var tok = HfTokenizer.Load(WriteWordLevel());
        var target = TempDir();
        tok.SaveTo(target);
        using var copy = HfTokenizer.Load(target);
        Assert.Equal(tok.Encode("hello world"), copy.Encode("hello world"));
        Assert.Equal(tok.EosId, copy.EosId);
        Assert.True(File.Exists(Path.Combine(target, "tokenizer_config.json")));
    }

    [Fact]
    public void SpecialTokensFallBackToConventionalNamesWithoutTokenizerConfig()
    {
        using var tok = HfTokenizer.Load(Path.Combine(WriteWordLevel(withConfig: false), "tokenizer.json"));
        Assert.Equal((int?)1, tok.BosId);
        Assert.Equal((int?)2, tok.EosId);
        Assert.Equal((int?)0, tok.PadId);
    }

    [Fact]
    public void AnExplicitNullInTokenizerConfigMeansNoSuchToken()
    {
        var dir = WriteWordLevel(withConfig: false);
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), "{\"bos_token\":\"<s>\",\"eos_token\":\"</s>\",\"pad_token\":null}");
        using var tok = HfTokenizer.Load(dir);
        Assert.Null(tok.PadId);
        Assert.Equal((int?)2, tok.EosId);
    }

    [Fact]
    public void ByteLevelBpeRoundTripsAnyText()
    {
        using var tok = HfTokenizer.Load(WriteByteLevelBpe());
        var hello = tok.Encode("hello world", addSpecialTokens: false);
        Assert.Equal([tok.TokenToId("hello")!.Value, tok.TokenToId("Ġwo")!.Value, tok.TokenToId("r")!.Value,
            tok.TokenToId("l")!.Value, tok.TokenToId("d")!.Value], hello);
        foreach (var text in new[] { "hello world", "Ünïcödé ✓ and\nnewlines\n\nHuman: x", "" })
            Assert.Equal(text, tok.Decode(tok.Encode(text)));
        Assert.Equal(tok.EosId!.Value + 1, tok.VocabSize);
        Assert.Null(tok.BosId);
    }

    [Fact]
    public void MissingTokenizerFileIsNamed()
    {
        var e = Assert.Throws<FileNotFoundException>(() => HfTokenizer.Load(TempDir()));
        Assert.Contains("tokenizer.json", e.Message);
    }
}

public class TokenizerFileErrorTests
{
    [Fact]
    public void MalformedTokenizerJsonIsNamed()
    {
        var dir = TempDir();
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), "{ not json");
        var e = Assert.Throws<InvalidDataException>(() => HfTokenizer.Load(dir));
        Assert.Contains("tokenizer.json", e.Message);
    }
}
