using Cai.Modeling;
using static TorchSharp.torch;
using static Cai.Modeling.Tests.TestSupport;

namespace Cai.Modeling.Tests;

/// <summary>
/// The whole forward pass recomputed from the parameters with plain tensor ops, written from the
/// HF Llama description (not from Llama.cs): catches wrong head grouping, rotary layout, norm
/// placement or bias handling that the component tests could miss.
/// </summary>
public class ReferenceForwardTests
{
    [Theory]
    [InlineData("llama", false, false)]
    [InlineData("qwen2", true, true)]
    public void ForwardMatchesAPlainReimplementation(string modelType, bool qkvBias, bool tied)
    {
        var c = Tiny(tied, modelType, qkvBias);
        var m = Model(c, seed: 11);
        var p = m.named_parameters().ToDictionary(x => x.name, x => (Tensor)x.parameter);
        long[] ids = [1, 7, 3, 12, 40, 2, 9];
        int t = ids.Length, hd = c.HeadDim, group = c.NumAttentionHeads / c.NumKeyValueHeads;

        using var _ = inference_mode();
        Tensor Norm(Tensor x, string w) => p[w] * (x / (x.pow(2).mean([-1], keepdim: true) + c.RmsNormEps).sqrt());
        Tensor Lin(Tensor x, string name) => x.matmul(p[name + ".weight"].t()) + (p.TryGetValue(name + ".bias", out var b) ? b : zeros(1));
        Tensor Rope(Tensor x, int pos) // x: (hd) for one head at one position
        {
            var rotated = zeros(hd);
            for (int i = 0; i < hd / 2; i++)
            {
                double angle = pos * Math.Pow(c.RopeTheta, -2.0 * i / hd);
                float a = x[i].item<float>(), b = x[i + hd / 2].item<float>();
                rotated[i] = (float)(a * Math.Cos(angle) - b * Math.Sin(angle));
                rotated[i + hd / 2] = (float)(b * Math.Cos(angle) + a * Math.Sin(angle));
            }
            return rotated;
        }

        var h = p["model.embed_tokens.weight"].index_select(0, tensor(ids));
        for (int layer = 0; layer < c.NumHiddenLayers; layer++)
        {
            var l = $"model.layers.{layer}.";
            var x = Norm(h, l + "input_layernorm.weight");
            var q = Lin(x, l + "self_attn.q_proj");
            var k = Lin(x, l + "self_attn.k_proj");
            var v = Lin(x, l + "self_attn.v_proj");
            var heads = new List<Tensor>();
            for (int head = 0; head < c.NumAttentionHeads; head++)
            {
                int kvHead = head / group; // HF repeat_kv: consecutive query heads share a key/value head
                var outputs = new List<Tensor>();
                for (int i = 0; i < t; i++)
                {
                    var qi = Rope(q[i].narrow(0, head * hd, hd), i);
                    var scores = new float[i + 1];
                    for (int j = 0; j <= i; j++)
                        scores[j] = qi.dot(Rope(k[j].narrow(0, kvHead * hd, hd), j)).item<float>() / MathF.Sqrt(hd);
                    var weights = tensor(scores).softmax(0);
                    outputs.Add(weights.matmul(v.narrow(0, 0, i + 1).narrow(1, kvHead * hd, hd)));
                }
                heads.Add(stack(outputs));
            }
            h = h + Lin(cat(heads, 1), l + "self_attn.o_proj");
            var y = Norm(h, l + "post_attention_layernorm.weight");
            var gate = Lin(y, l + "mlp.gate_proj");
            h = h + Lin(gate * gate.sigmoid() * Lin(y, l + "mlp.up_proj"), l + "mlp.down_proj");
        }
        var final = Norm(h, "model.norm.weight");
        var expected = final.matmul(p[tied ? "model.embed_tokens.weight" : "lm_head.weight"].t());

        var actual = m.Forward(tensor(ids).unsqueeze(0)).Logits[0];
        Assert.True(MaxAbsDiff(expected, actual) < 1e-4, $"max diff {MaxAbsDiff(expected, actual)}");
    }
}
