using Cai.Modeling;
using static TorchSharp.torch;

namespace Cai.Modeling.Tests;

/// <summary>Tiny models and scratch folders shared by the tests.</summary>
internal static class TestSupport
{
    /// <summary>2 layers, grouped-query attention (4 query heads, 2 key/value heads), vocab 50.</summary>
    public static LlamaConfig Tiny(bool tied = false, string modelType = "llama", bool qkvBias = false) => new()
    {
        ModelType = modelType,
        HiddenSize = 32,
        IntermediateSize = 64,
        NumHiddenLayers = 2,
        NumAttentionHeads = 4,
        NumKeyValueHeads = 2,
        VocabSize = 50,
        MaxPositionEmbeddings = 64,
        RmsNormEps = 1e-5,
        RopeTheta = 10000,
        TieWordEmbeddings = tied,
        QkvBias = qkvBias,
        EosTokenIds = [2],
        BosTokenId = 1,
    };

    /// <summary>A model with bias on q/k/v filled with non-zero values so bias bugs show up.</summary>
    public static LlamaForCausalLM Model(LlamaConfig? config = null, long seed = 1)
    {
        var m = new LlamaForCausalLM(config ?? Tiny(), seed: seed);
        using var noGrad = no_grad();
        foreach (var (name, p) in m.named_parameters())
            if (name.EndsWith(".bias", StringComparison.Ordinal)) p.normal_(0, 0.1);
        m.eval();
        return m;
    }

    public static Tensor Ids(params long[][] rows) =>
        tensor(rows.SelectMany(r => r).ToArray(), [rows.Length, rows[0].Length]);

    public static string TempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "cai-modeling-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static float MaxAbsDiff(Tensor a, Tensor b) => (a.to(ScalarType.Float32) - b.to(ScalarType.Float32)).abs().max().item<float>();

    public static bool Identical(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();
}
