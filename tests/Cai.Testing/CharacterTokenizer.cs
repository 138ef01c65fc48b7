using System.Text.Json.Nodes;

namespace Cai.Testing;

/// <summary>
/// A Hugging Face tokenizer.json whose words are single characters (WordLevel with a one-character Split and a
/// Fuse decoder): every character of the alphabet is one token, BOS is prepended. Ids: 0 &lt;pad&gt;, 1 &lt;s&gt;,
/// 2 &lt;unk&gt;, then 3 &lt;/s&gt; when an EOS is wanted, then the alphabet.
/// </summary>
public static class CharacterTokenizer
{
    /// <summary>Lower case, digits and the punctuation plain prompts need.</summary>
    public const string Lowercase = " abcdefghijklmnopqrstuvwxyz0123456789.,?!:'\n";

    /// <summary>Both cases, digits and the punctuation of the paper's format markers ("CritiqueRequest:", " (A)").</summary>
    public const string FormatMarkers = " abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,?!:;'\"()-\n";

    public static int VocabSize(string alphabet, bool withEos) => (withEos ? 4 : 3) + alphabet.Length;

    /// <summary>Writes tokenizer.json and tokenizer_config.json into <paramref name="dir"/>.</summary>
    public static void Write(string dir, string alphabet, bool withEos)
    {
        Directory.CreateDirectory(dir);
        var vocab = new JsonObject { ["<pad>"] = 0, ["<s>"] = 1, ["<unk>"] = 2 };
        var added = new JsonArray(Special(0, "<pad>"), Special(1, "<s>"), Special(2, "<unk>"));
        if (withEos)
        {
            vocab["</s>"] = 3;
            added.Add(Special(3, "</s>"));
        }
        int first = withEos ? 4 : 3;
        for (int i = 0; i < alphabet.Length; i++) vocab[alphabet[i].ToString()] = first + i;
        var json = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = added,
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
        var config = new JsonObject { ["bos_token"] = "<s>", ["pad_token"] = "<pad>" };
        if (withEos) config["eos_token"] = "</s>";
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), config.ToJsonString());
    }

    private static JsonObject Special(int id, string content) => new()
    {
        ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = false,
        ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
    };
}
