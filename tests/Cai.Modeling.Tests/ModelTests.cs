using Cai.Modeling;
using TorchSharp;
using static TorchSharp.torch;
using static Cai.Modeling.Tests.TestSupport;

namespace Cai.Modeling.Tests;

public class ModelTests
{
    [Fact]
    public void ParameterNamesAreHuggingFaceNames()
    {
        var untied = Model().named_parameters().Select(p => p.name).ToHashSet();
        Assert.Contains("model.embed_tokens.weight", untied);
        Assert.Contains("model.layers.0.self_attn.q_proj.weight", untied);
        Assert.Contains("model.layers.1.self_attn.o_proj.weight", untied);
        Assert.Contains("model.layers.0.mlp.gate_proj.weight", untied);
        Assert.Contains("model.layers.0.mlp.down_proj.weight", untied);
        Assert.Contains("model.layers.0.input_layernorm.weight", untied);
        Assert.Contains("model.layers.0.post_attention_layernorm.weight", untied);
        Assert.Contains("model.norm.weight", untied);
        Assert.Contains("lm_head.weight", untied);
        Assert.DoesNotContain("model.layers.0.self_attn.q_proj.bias", untied);

        var tied = Model(Tiny(tied: true)).named_parameters().Select(p => p.name).ToHashSet();
        Assert.DoesNotContain("lm_head.weight", tied);
        var qwen = Model(Tiny(modelType: "qwen2", qkvBias: true)).named_parameters().Select(p => p.name).ToHashSet();
        Assert.Contains("model.layers.0.self_attn.q_proj.bias", qwen);
        Assert.DoesNotContain("model.layers.0.self_attn.o_proj.bias", qwen);
    }

    [Fact]
    public void ParameterCountMatchesTheArchitecture()
    {
        var c = Tiny();
        long attention = 32 * 32 + 2 * 32 * 16 + 32 * 32; // q, k, v (2 kv heads x 8), o
        long mlp = 3 * 32 * 64;
        long perLayer = attention + mlp + 2 * 32;
        long expected = 50 * 32 + c.NumHiddenLayers * perLayer + 32 + 50 * 32;
        Assert.Equal(expected, Model(c).ParameterCount());
        Assert.Equal(expected - 50 * 32, Model(Tiny(tied: true)).ParameterCount());
    }

    [Fact]
    public void InitialisationUsesStd002AndIsSeeded()
    {
        var a = new LlamaForCausalLM(Tiny(), seed: 5);
        var b = new LlamaForCausalLM(Tiny(), seed: 5);
        var emb = a.named_parameters().First(p => p.name == "model.embed_tokens.weight").parameter;
        Assert.InRange(emb.std().item<float>(), 0.015f, 0.025f);
        var norm = a.named_parameters().First(p => p.name == "model.norm.weight").parameter;
        Assert.True(norm.eq(1).all().item<bool>());
        foreach (var ((_, pa), (_, pb)) in a.named_parameters().Zip(b.named_parameters()))
            Assert.True(Identical(pa, pb));
    }

    [Fact]
    public void RotaryMatchesAHandComputedCase()
    {
        // head_dim 4: frequencies 1 and theta^(-1/2) = 0.01; the halves (x0, x1) and (x2, x3) pair up
        // as (x0, x2) and (x1, x3): [x0 cos a - x2 sin a, x1 cos b - x3 sin b, x2 cos a + x0 sin a, x3 cos b + x1 sin b].
        double theta = 10000, pos = 3;
        var x = tensor(new float[] { 1f, 2f, 3f, 4f }).view(1, 1, 1, 4);
        var (cos, sin) = Rotary.CosSin(tensor(new long[] { 3 }).view(1, 1), 4, theta, ScalarType.Float32);
        var y = Rotary.Apply(x, cos, sin).view(4).data<float>().ToArray();
        double a = pos * 1.0, b = pos * Math.Pow(theta, -0.5);
        double[] expected =
        [
            1 * Math.Cos(a) - 3 * Math.Sin(a),
            2 * Math.Cos(b) - 4 * Math.Sin(b),
            3 * Math.Cos(a) + 1 * Math.Sin(a),
            4 * Math.Cos(b) + 2 * Math.Sin(b),
        ];
        for (int i = 0; i < 4; i++) Assert.Equal(expected[i], y[i], 5);
    }

    [Fact]
    public void RMSNormScalesToUnitRootMeanSquare()
    {
        var norm = new RMSNorm(4, 1e-6, CPU);
        var y = norm.Forward(tensor(new float[] { 1, -2, 3, -4, 2, 2, 2, 2 }).view(2, 4));
        var rms = y.pow(2).mean([-1]).sqrt();
        Assert.True(MaxAbsDiff(rms, ones(2)) < 1e-5);
        Assert.Equal(1f / MathF.Sqrt(7.5f), y[0, 0].item<float>(), 5);
    }

    [Fact]
    public void ChangingAFutureTokenNeverChangesEarlierLogits()
    {
        var m = Model();
        using var _ = inference_mode();
        var a = m.Forward(Ids([5, 6, 7, 8, 9, 10])).Logits;
        var b = m.Forward(Ids([5, 6, 7, 8, 33, 44])).Logits;
        Assert.True(MaxAbsDiff(a.narrow(1, 0, 4), b.narrow(1, 0, 4)) < 1e-6);
        Assert.True(MaxAbsDiff(a.narrow(1, 4, 1), b.narrow(1, 4, 1)) > 1e-4);
    }

    [Fact]
    public void LeftPaddedBatchEqualsEachPromptAlone()
    {
        foreach (var config in new[] { Tiny(), Tiny(tied: true, modelType: "qwen2", qkvBias: true) })
        {
            var m = Model(config);
            using var _ = inference_mode();
            long[] shortPrompt = [3, 4, 5], longPrompt = [7, 8, 9, 10, 11, 12];
            var batch = Ids([0, 0, 0, .. shortPrompt], longPrompt);
            var mask = Ids([0, 0, 0, 1, 1, 1], [1, 1, 1, 1, 1, 1]);
            var batched = m.Forward(batch, mask).Logits;
            var aloneShort = m.Forward(Ids(shortPrompt)).Logits;
            var aloneLong = m.Forward(Ids(longPrompt)).Logits;
            Assert.True(MaxAbsDiff(batched[0].narrow(0, 3, 3), aloneShort[0]) < 1e-5);
            Assert.True(MaxAbsDiff(batched[1], aloneLong[0]) < 1e-5);
            Assert.False(batched.isnan().any().item<bool>());
        }
    }

    [Fact]
    public void KvCacheForwardEqualsFullForward()
    {
        var m = Model();
        using var _ = inference_mode();
        var ids = Ids([3, 9, 4, 22, 17, 5, 8]);
        var full = m.Forward(ids).Logits;
        using var cache = new KvCache(m.Config.NumHiddenLayers);
        var first = m.Forward(ids.narrow(1, 0, 4), cache: cache).Logits;   // prefill 4
        var chunk = m.Forward(ids.narrow(1, 4, 2), cache: cache).Logits;   // 2 more at once (explicit causal mask)
        var last = m.Forward(ids.narrow(1, 6, 1), cache: cache).Logits;    // one token
        Assert.Equal(7, cache.Length);
        Assert.True(MaxAbsDiff(cat([first, chunk, last], 1), full) < 1e-5);
    }

    [Fact]
    public void ReturnsHiddenStatesAndKeepsOnlyTheLastLogits()
    {
        var m = Model();
        using var _ = inference_mode();
        var all = m.Forward(Ids([1, 2, 3, 4]), returnHidden: true);
        var tail = m.Forward(Ids([1, 2, 3, 4]), logitsToKeep: 1);
        Assert.Equal([1L, 4, 32], all.Hidden!.shape);
        Assert.Equal([1L, 1, 50], tail.Logits.shape);
        Assert.True(MaxAbsDiff(tail.Logits, all.Logits.narrow(1, 3, 1)) < 1e-6);
    }

    [Fact]
    public void Bf16ComputeStaysCloseToFloat32()
    {
        var m = Model();
        using var _ = inference_mode();
        var ids = Ids([3, 9, 4, 22, 17]);
        var f32 = m.Forward(ids).Logits;
        m.to(ScalarType.BFloat16);
        var bf16 = m.Forward(ids).Logits;
        Assert.Equal(ScalarType.BFloat16, bf16.dtype);
        Assert.True(MaxAbsDiff(f32, bf16) < 0.05);
    }

    [Fact]
    public void CloneIsAnIndependentCopy()
    {
        var m = Model();
        var copy = m.Clone();
        using (no_grad()) m.named_parameters().First(p => p.name == "model.norm.weight").parameter.mul_(2);
        using var _ = inference_mode();
        var ids = Ids([1, 2, 3]);
        Assert.False(Identical(m.Forward(ids).Logits, copy.Forward(ids).Logits));
        Assert.True(Identical(Model().Forward(ids).Logits, copy.Forward(ids).Logits));
    }

    [Fact]
    public void SequenceLongerThanTheContextIsRefused()
    {
        var m = Model();
        var e = Assert.Throws<ArgumentException>(() => m.Forward(zeros(1, 65, ScalarType.Int64)));
        Assert.Contains("max_position_embeddings", e.Message);
    }
}
