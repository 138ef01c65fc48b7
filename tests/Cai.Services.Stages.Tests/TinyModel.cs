using System.Text.Json.Nodes;
using Cai.Modeling;

namespace Cai.Services.Stages.Tests;

/// <summary>
/// A tiny random Llama in the Hugging Face layout with a character-level tokenizer.json (upper and lower case,
/// digits and the punctuation of the paper's format markers, so prompts like "CritiqueRequest:" and " (A)" encode
/// without unknown tokens). BOS is prepended; "&lt;/s&gt;" is EOS. The context is long enough for critique prompts.
/// </summary>
internal static class TinyModel
{
    public const string Alphabet = " abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,?!:;'\"()-\n";

    /// <summary>Ids: 0 pad, 1 bos, 2 unk, 3 eos, then the alphabet.</summary>
    public static int VocabSize => 4 + Alphabet.Length;

    public static LlamaConfig Config => new()
    {
        HiddenSize = 32,
        IntermediateSize = 64,
        NumHiddenLayers = 2,
        NumAttentionHeads = 4,
        NumKeyValueHeads = 2,
        VocabSize = VocabSize,
        MaxPositionEmbeddings = 2048,
        BosTokenId = 1,
        PadTokenId = 0,
    };

    /// <summary>Writes config.json, model.safetensors, tokenizer.json and tokenizer_config.json into <paramref name="dir"/>.</summary>
    public static string Write(string dir, long seed)
    {
        Directory.CreateDirectory(dir);
        using (var model = new LlamaForCausalLM(Config, seed: seed))
            Checkpoint.Save(model, dir);
        WriteTokenizer(dir);
        return dir;
    }

    private static JsonObject Special(int id, string content) => new()
    {
        ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = false,
        ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
    };

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
                ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = "[\\s\\S]" },
                ["behavior"] = "Isolated", ["invert"] = false,
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
