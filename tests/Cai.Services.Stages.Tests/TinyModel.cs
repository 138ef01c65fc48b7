using System.Text.Json.Nodes;
using Cai.Modeling;
using Cai.Testing;

namespace Cai.Services.Stages.Tests;

/// <summary>
/// A tiny random Llama in the Hugging Face layout with a character-level tokenizer.json (upper and lower case,
/// digits and the punctuation of the paper's format markers, so prompts like "CritiqueRequest:" and " (A)" encode
/// without unknown tokens). BOS is prepended; "&lt;/s&gt;" is EOS. The context is long enough for critique prompts.
/// </summary>
internal static class TinyModel
{
    public const string Alphabet = CharacterTokenizer.FormatMarkers;

    /// <summary>Ids: 0 pad, 1 bos, 2 unk, 3 eos, then the alphabet.</summary>
    public static int VocabSize => CharacterTokenizer.VocabSize(Alphabet, withEos: true);

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
        CharacterTokenizer.Write(dir, Alphabet, withEos: true);
        return dir;
    }
}
