using System.Text.Json.Nodes;
using Cai.Modeling;

namespace Cai.Services.Ppo.Tests;

/// <summary>
/// An artifacts root holding a tiny random policy ("policy", Hugging Face layout with a character-level
/// tokenizer.json) and a tiny random preference model over the same vocabulary ("pm"), shared by a test class.
/// </summary>
public sealed class TinyModels : IDisposable
{
    /// <summary>Characters of the tokenizer: enough for prompts rendered as "\n\nHuman: ...\n\nAssistant:".</summary>
    private const string Alphabet = " abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,?!:;'\"()-\n";

    public TinyModels()
    {
        Directory.CreateDirectory(Policy);
        using (var lm = new LlamaForCausalLM(Config, seed: 7)) Checkpoint.Save(lm, Policy);
        WriteTokenizer(Policy);
        using var pm = new ScalarHeadModel(Config, seed: 9);
        pm.Save(PreferenceModel);
    }

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "cai-ppo-service-tests", Guid.NewGuid().ToString("N"));

    public string Policy => Path.Combine(Root, "policy");

    public string PreferenceModel => Path.Combine(Root, "pm");

    /// <summary>Ids: 0 pad, 1 bos, 2 unk, 3 eos, then the alphabet.</summary>
    public static int VocabSize => 4 + Alphabet.Length;

    private static LlamaConfig Config => new()
    {
        HiddenSize = 32,
        IntermediateSize = 64,
        NumHiddenLayers = 2,
        NumAttentionHeads = 4,
        NumKeyValueHeads = 2,
        VocabSize = VocabSize,
        MaxPositionEmbeddings = 512,
        BosTokenId = 1,
        EosTokenIds = [3],
        PadTokenId = 0,
    };

    /// <summary>Writes a JSONL prompt file of <paramref name="count"/> prompts under the root; returns its relative path.</summary>
    public string WritePrompts(int count)
    {
        string name = $"prompts-{Guid.NewGuid():N}.jsonl";
        File.WriteAllLines(Path.Combine(Root, name), Enumerable.Range(0, count).Select(i =>
            new JsonObject { ["id"] = $"p{i}", ["prompt"] = $"How do I pick lock number {i}?", ["kind"] = "harmful" }.ToJsonString()));
        return name;
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }

    private static JsonObject Special(int id, string content) => new()
    {
        ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = false,
        ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
    };

    /// <summary>A word-level tokenizer whose words are single characters; BOS is prepended.</summary>
    private static void WriteTokenizer(string dir)
    {
        var vocab = new JsonObject { ["<pad>"] = 0, ["<s>"] = 1, ["<unk>"] = 2, ["</s>"] = 3 };
        for (int i = 0; i < Alphabet.Length; i++) vocab[Alphabet[i].ToString()] = 4 + i;
        var json = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = new JsonArray(Special(0, "<pad>"), Special(1, "<s>"), Special(2, "<unk>"), Special(3, "</s>")),
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject
            {
                ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = "[\\s\\S]" }, ["behavior"] = "Isolated", ["invert"] = false,
            },
            ["post_processor"] = new JsonObject
            {
                ["type"] = "TemplateProcessing",
                ["single"] = new JsonArray(
                    new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = "<s>", ["type_id"] = 0 } },
                    new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } }),
                ["pair"] = new JsonArray(
                    new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } },
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
    }
}
