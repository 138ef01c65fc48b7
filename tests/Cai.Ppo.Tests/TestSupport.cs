using Cai.Modeling;
using Cai.Training.Ppo;
using static TorchSharp.torch;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Cai.Ppo.Tests;

/// <summary>Tiny models, a toy reward and scratch folders shared by the tests.</summary>
internal static class TestSupport
{
    /// <summary>2 layers, grouped-query attention, 16 tokens, no EOS (every response runs to the length limit).</summary>
    public static LlamaConfig Tiny() => new()
    {
        HiddenSize = 32,
        IntermediateSize = 64,
        NumHiddenLayers = 2,
        NumAttentionHeads = 4,
        NumKeyValueHeads = 2,
        VocabSize = 16,
        MaxPositionEmbeddings = 64,
        PadTokenId = 0,
    };

    /// <summary>Eight prompts of 2 to 5 tokens (ids 1..15), fixed by <paramref name="seed"/>.</summary>
    public static IReadOnlyList<int[]> Prompts(int seed = 3)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, 8).Select(_ => Enumerable.Range(0, random.Next(2, 6)).Select(_ => random.Next(1, 16)).ToArray()).ToList();
    }

    /// <summary>The four roles built from one seed: policy, its frozen copy, a value model on the policy's trunk.</summary>
    public static (PolicyModel Policy, ReferenceModel Reference, ValueModel Value) Roles(long seed = 5)
    {
        var policy = new PolicyModel(new LlamaForCausalLM(Tiny(), seed: seed));
        return (policy, ReferenceModel.CopyOf(policy), ValueModel.Create(ValueModelSource.Policy, policy, null, seed + 1));
    }

    public static string TempDir(string what)
    {
        var dir = Path.Combine(Path.GetTempPath(), "cai-ppo-tests", what + "-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static Tensor T(params float[] values) => tensor(values);

    public static Tensor T2(float[,] values) => tensor(values);

    public static void Close(double expected, Tensor actual, double tolerance = 1e-5) =>
        Assert.True(Math.Abs(expected - actual.item<float>()) <= tolerance, $"expected {expected}, got {actual.item<float>()}");

    public static void Close(float[] expected, Tensor actual, double tolerance = 1e-5)
    {
        var a = actual.reshape(-1).data<float>().ToArray();
        Assert.Equal(expected.Length, a.Length);
        for (int i = 0; i < a.Length; i++)
            Assert.True(Math.Abs(expected[i] - a[i]) <= tolerance, $"element {i}: expected {expected[i]}, got {a[i]}");
    }

    /// <summary>Every parameter bit-identical.</summary>
    public static void AssertIdentical(nn.Module expected, nn.Module actual)
    {
        var a = expected.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var b = actual.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var (name, p) in a) Assert.True(p.eq(b[name]).all().item<bool>(), $"parameter {name} differs");
    }
}

/// <summary>A toy reward: the fraction of response tokens equal to <paramref name="target"/>.</summary>
internal sealed class TokenFractionReward(int target) : IRewardModel
{
    public float[] Score(IReadOnlyList<int[]> prompts, IReadOnlyList<int[]> responses, CancellationToken cancellationToken = default) =>
        responses.Select(r => r.Count(t => t == target) / (float)r.Length).ToArray();
}

/// <summary>Runs its callback on the reporting thread.</summary>
internal sealed class SyncProgress<T>(Action<T> callback) : IProgress<T>
{
    public void Report(T value) => callback(value);
}

/// <summary>The same score for every response.</summary>
internal sealed class ConstantReward(float score) : IRewardModel
{
    public float[] Score(IReadOnlyList<int[]> prompts, IReadOnlyList<int[]> responses, CancellationToken cancellationToken = default) =>
        responses.Select(_ => score).ToArray();
}

/// <summary>A token-id-only tokenizer for the tiny vocabulary (pad 0, EOS 2): enough for scoring encoded sequences.</summary>
internal sealed class IdTokenizer : Cai.Modeling.Tokenization.ITokenizer
{
    public int[] Encode(string text, bool addSpecialTokens = true) => throw new NotSupportedException("The tests pass token ids.");
    public string Decode(IReadOnlyList<int> ids) => string.Join(" ", ids);
    public int? TokenToId(string token) => int.TryParse(token, out int id) && id < VocabSize ? id : null;
    public string? IdToToken(int id) => id >= 0 && id < VocabSize ? id.ToString(System.Globalization.CultureInfo.InvariantCulture) : null;
    public int VocabSize => 16;
    public int? BosId => 1;
    public int? EosId => 2;
    public int? PadId => 0;
}
