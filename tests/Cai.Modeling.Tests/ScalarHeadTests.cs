using Cai.Modeling;
using static TorchSharp.torch;
using static Cai.Modeling.Tests.TestSupport;

namespace Cai.Modeling.Tests;

public class ScalarHeadTests
{
    [Fact]
    public void SequenceValueIsReadAtTheLastRealTokenForLeftAndRightPadding()
    {
        var pm = new ScalarHeadModel(Tiny(), seed: 3);
        pm.eval();
        using var _ = inference_mode();
        var alone = pm.SequenceValues(Ids([1, 4, 5, 6])).item<float>();
        var left = pm.SequenceValues(Ids([0, 0, 1, 4, 5, 6], [1, 2, 3, 4, 5, 6]), Ids([0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]));
        var right = pm.SequenceValues(Ids([1, 4, 5, 6, 0, 0]), Ids([1, 1, 1, 1, 0, 0]));
        Assert.Equal(alone, left[0].item<float>(), 5);
        Assert.Equal(alone, right.item<float>(), 5);
        Assert.Equal([1L, 4], pm.TokenValues(Ids([1, 4, 5, 6])).shape);
    }

    [Fact]
    public void SavesAndLoadsInTheHuggingFaceLayoutWithScoreWeight()
    {
        var pm = new ScalarHeadModel(Tiny(), seed: 3);
        var dir = TempDir();
        pm.Save(dir);
        var names = Safetensors.ReadHeader(Path.Combine(dir, "model.safetensors")).Entries.Select(e => e.Name).ToList();
        Assert.Contains(ScalarHeadModel.HeadTensorName, names);
        Assert.DoesNotContain("lm_head.weight", names);
        Assert.Contains("LlamaForSequenceClassification", File.ReadAllText(Path.Combine(dir, "config.json")));
        var loaded = ScalarHeadModel.Load(dir);
        using var _ = inference_mode();
        Assert.True(Identical(pm.TokenValues(Ids([1, 2, 3])), loaded.TokenValues(Ids([1, 2, 3]))));
    }

    [Fact]
    public void StartsFromALanguageModelTrunk()
    {
        var lm = Model();
        var dir = TempDir();
        Checkpoint.Save(lm, dir);
        var fromDisk = ScalarHeadModel.FromCausalLM(dir, seed: 9);
        var inMemory = new ScalarHeadModel(lm.Config, seed: 9);
        inMemory.CopyTrunkFrom(lm);
        using var _ = inference_mode();
        var ids = Ids([1, 7, 8]);
        var hidden = lm.Forward(ids, returnHidden: true).Hidden!;
        var head = fromDisk.named_parameters().First(p => p.name == "score.weight").parameter;
        Assert.True(MaxAbsDiff(fromDisk.TokenValues(ids), hidden.matmul(head.t()).squeeze(-1)) < 1e-5);
        Assert.True(Identical(fromDisk.TokenValues(ids), inMemory.TokenValues(ids)));
    }
}
