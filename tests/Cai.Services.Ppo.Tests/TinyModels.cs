using System.Text.Json.Nodes;
using Cai.Modeling;
using Cai.Testing;

namespace Cai.Services.Ppo.Tests;

/// <summary>
/// An artifacts root holding a tiny random policy ("policy", Hugging Face layout with a character-level
/// tokenizer.json) and a tiny random preference model over the same vocabulary ("pm"), shared by a test class.
/// </summary>
public sealed class TinyModels : IDisposable
{
    /// <summary>Characters of the tokenizer: enough for prompts rendered as "\n\nHuman: ...\n\nAssistant:".</summary>
    private const string Alphabet = CharacterTokenizer.FormatMarkers;

    public TinyModels()
    {
        Directory.CreateDirectory(Policy);
        using (var lm = new LlamaForCausalLM(Config, seed: 7)) Checkpoint.Save(lm, Policy);
        CharacterTokenizer.Write(Policy, Alphabet, withEos: true);
        using var pm = new ScalarHeadModel(Config, seed: 9);
        pm.Save(PreferenceModel);
    }

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "cai-ppo-service-tests", Guid.NewGuid().ToString("N"));

    public string Policy => Path.Combine(Root, "policy");

    public string PreferenceModel => Path.Combine(Root, "pm");

    /// <summary>Ids: 0 pad, 1 bos, 2 unk, 3 eos, then the alphabet.</summary>
    public static int VocabSize => CharacterTokenizer.VocabSize(Alphabet, withEos: true);

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
}
