using System.Text.Json.Nodes;
using Cai.Modeling;
using Cai.Testing;

namespace Cai.Services.Generation.Tests;

/// <summary>
/// A tiny random Llama saved in the Hugging Face layout by the model core's checkpoint writer, with a
/// character-level tokenizer.json: every character is a token, BOS is prepended, and there is no EOS,
/// so greedy samples always run to max_new_tokens (lengths the tests can count on).
/// </summary>
internal static class TinyModel
{
    public const string Alphabet = CharacterTokenizer.Lowercase;

    /// <summary>Ids: 0 pad, 1 bos, 2 unk, then the alphabet.</summary>
    public static int VocabSize => CharacterTokenizer.VocabSize(Alphabet, withEos: false);

    public static LlamaConfig Config => new()
    {
        HiddenSize = 32,
        IntermediateSize = 64,
        NumHiddenLayers = 2,
        NumAttentionHeads = 4,
        NumKeyValueHeads = 2,
        VocabSize = VocabSize,
        MaxPositionEmbeddings = 256,
        BosTokenId = 1,
        PadTokenId = 0,
    };

    /// <summary>Writes config.json, model.safetensors, tokenizer.json and tokenizer_config.json into <paramref name="dir"/>.</summary>
    public static string Write(string dir, long seed, LlamaConfig? config = null)
    {
        Directory.CreateDirectory(dir);
        using (var model = new LlamaForCausalLM(config ?? Config, seed: seed))
            Checkpoint.Save(model, dir);
        CharacterTokenizer.Write(dir, Alphabet, withEos: false);
        return dir;
    }
}
