using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using Cai.Core.Dialogues;
using Cai.Modeling;
using Cai.Modeling.Tokenization;
using static TorchSharp.torch;

namespace Cai.Training.Tests;

/// <summary>Tiny models, a character-level tokenizer and scratch folders shared by the tests.</summary>
internal static class TestSupport
{
    private static readonly Lazy<string> TokenizerDir = new(WriteCharTokenizer);

    /// <summary>
    /// A character-level WordLevel tokenizer.json: every character is a token (ids 0 pad, 1 bos,
    /// 2 eos, 3 unk, then "\n", " " and printable ASCII); BOS is added by the post-processor and
    /// decoding concatenates tokens back into the text.
    /// </summary>
    private static string WriteCharTokenizer()
    {
        var dir = TempDir("tokenizer");
        var vocab = new JsonObject { ["<pad>"] = 0, ["<s>"] = 1, ["</s>"] = 2, ["<unk>"] = 3, ["\n"] = 4, [" "] = 5 };
        int id = 6;
        for (char c = '!'; c <= '~'; c++) vocab[c.ToString()] = id++;
        static JsonObject Special(int id, string content) => new()
        {
            ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = false,
            ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
        };
        var json = new JsonObject
        {
            ["version"] = "1.0", ["truncation"] = null, ["padding"] = null,
            ["added_tokens"] = new JsonArray(Special(0, "<pad>"), Special(1, "<s>"), Special(2, "</s>"), Special(3, "<unk>")),
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject
            {
                ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = "[\\s\\S]" },
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
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), "{\"bos_token\":\"<s>\",\"eos_token\":\"</s>\",\"pad_token\":\"<pad>\"}");
        return dir;
    }

    /// <summary>The folder holding the character tokenizer's files.</summary>
    public static string TokenizerDirectory => TokenizerDir.Value;

    public static HfTokenizer Tokenizer() => HfTokenizer.Load(TokenizerDirectory);

    /// <summary>2 layers, grouped-query attention, vocabulary of the character tokenizer.</summary>
    public static LlamaConfig Tiny(int maxPositions = 256) => new()
    {
        HiddenSize = 32,
        IntermediateSize = 64,
        NumHiddenLayers = 2,
        NumAttentionHeads = 4,
        NumKeyValueHeads = 2,
        VocabSize = 100,
        MaxPositionEmbeddings = maxPositions,
        BosTokenId = 1,
        EosTokenIds = [2],
        PadTokenId = 0,
    };

    /// <summary>A random tiny language model saved with the tokenizer: a stand-in for a pretrained checkpoint.</summary>
    public static string SavedLanguageModel(long seed = 7)
    {
        var dir = TempDir("lm");
        using var model = new LlamaForCausalLM(Tiny(), seed: seed);
        Checkpoint.Save(model, dir);
        foreach (var f in new[] { "tokenizer.json", "tokenizer_config.json" })
            File.Copy(Path.Combine(TokenizerDirectory, f), Path.Combine(dir, f));
        return dir;
    }

    // One scratch root per test run. The test host is often ended without running exit handlers,
    // so each run removes the roots that earlier runs left (older than an hour) instead.
    private static readonly Lazy<string> ScratchRoot = new(() =>
    {
        var parent = Path.Combine(Path.GetTempPath(), "cai-training-tests");
        if (Directory.Exists(parent))
        {
            foreach (var old in Directory.EnumerateDirectories(parent).Where(d => Directory.GetLastWriteTimeUtc(d) < DateTime.UtcNow.AddHours(-1)))
            {
                try { Directory.Delete(old, recursive: true); }
                catch (IOException) { } // best effort: a leftover scratch folder is harmless
            }
        }
        var root = Path.Combine(parent, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        return root;
    });

    public static string TempDir(string what)
    {
        var dir = Path.Combine(ScratchRoot.Value, what + "-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static Dialogue Ask(string question) => Dialogue.FromHuman(question);

    /// <summary>Every parameter bit-identical (same names, shapes and values).</summary>
    public static void AssertIdenticalWeights(nn.Module expected, nn.Module actual)
    {
        var a = expected.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var b = actual.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var (name, p) in a)
            Assert.True(p.shape.SequenceEqual(b[name].shape) && p.eq(b[name]).all().item<bool>(), $"parameter {name} differs");
    }

    /// <summary>Walks up from this source file and from the test binaries to find <c>shared/data/{relative}</c>.</summary>
    public static string? FindSharedData(string relative, [CallerFilePath] string sourceFile = "")
    {
        foreach (var start in new[] { Path.GetDirectoryName(sourceFile), AppContext.BaseDirectory })
        {
            for (var dir = start is null ? null : new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "shared", "data", relative);
                if (File.Exists(candidate)) return candidate;
            }
        }
        return null;
    }
}

/// <summary>An <see cref="IProgress{T}"/> that runs its callback synchronously on the reporting thread
/// (<see cref="Progress{T}"/> posts to the thread pool, too late to stop a step).</summary>
internal sealed class SyncProgress<T>(Action<T> callback) : IProgress<T>
{
    public void Report(T value) => callback(value);
}

/// <summary>A fact that needs the shared hh-rlhf test file; skipped with the reason when it is absent
/// (on a user's machine ../shared does not exist).</summary>
public sealed class HhRlhfFactAttribute : FactAttribute
{
    public const string RelativePath = "hh-rlhf/harmless-base-test.jsonl.gz";

    public HhRlhfFactAttribute()
    {
        if (TestSupport.FindSharedData(RelativePath) is null)
            Skip = $"shared/data/{RelativePath} not found above the test folder (it ships only beside the team's checkout and in CI).";
    }
}
