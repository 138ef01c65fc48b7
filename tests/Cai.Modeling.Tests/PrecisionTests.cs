using Cai.Modeling;
using Cai.Modeling.Precision;
using static TorchSharp.torch;
using static Cai.Modeling.Tests.TestSupport;

namespace Cai.Modeling.Tests;

public class PrecisionTests
{
    [Fact]
    public void AdvisorMeasuresBothAndNeverRecommendsFloat16()
    {
        var advice = PrecisionAdvisor.Advise(size: 256, repeats: 2);
        Assert.True(advice.Float32Gflops > 0 && advice.BFloat16Gflops > 0);
        Assert.Contains(advice.ComputeDtype, new[] { ScalarType.Float32, ScalarType.BFloat16 });
        Assert.Equal(advice.BFloat16Gflops >= 1.2 * advice.Float32Gflops, advice.ComputeDtype == ScalarType.BFloat16);
    }

    [Fact]
    public void Float16ComputeIsRefusedOnTheCpu()
    {
        var e = Assert.Throws<ArgumentException>(() => new MixedPrecision(Model(), Model(), ScalarType.Float16));
        Assert.Equal("computeDtype", e.ParamName);
    }

    [Fact]
    public void MixedPrecisionGradientsMatchFloat32AndLandOnTheMaster()
    {
        var master = Model(seed: 4);
        var reference = Model(seed: 4);
        var mp = new MixedPrecision(master, Model(seed: 77));
        var ids = Ids([1, 5, 9, 12, 7, 3]);

        Tensor Loss(LlamaForCausalLM m) =>
            nn.functional.cross_entropy(m.Forward(ids.narrow(1, 0, 5)).Logits.to(ScalarType.Float32).view(-1, 50), ids.narrow(1, 1, 5).reshape(-1));

        Loss(reference).backward();
        Loss((LlamaForCausalLM)mp.Compute).backward();
        mp.AccumulateGradients();
        foreach (var ((name, p), (_, r)) in master.named_parameters().Zip(reference.named_parameters()))
        {
            Assert.Equal(ScalarType.Float32, p.grad!.dtype);
            var scale = r.grad!.abs().max().item<float>() + 1e-6f;
            Assert.True(MaxAbsDiff(p.grad, r.grad) / scale < 0.1, $"{name}: {MaxAbsDiff(p.grad, r.grad)} vs max {scale}");
        }
        Assert.All(mp.Compute.parameters(), p => Assert.Null(p.grad));

        // After an optimizer step on the master, the compute copy follows.
        var opt = optim.AdamW(master.parameters(), lr: 1e-2);
        opt.step();
        mp.CopyMasterToCompute();
        var emb = master.named_parameters().First(p => p.name == "model.embed_tokens.weight").parameter;
        var embCompute = mp.Compute.named_parameters().First(p => p.name == "model.embed_tokens.weight").parameter;
        Assert.True(Identical(emb.to(ScalarType.BFloat16), embCompute));
    }
}
