using Cai.Services.Critique;
using Cai.Services.Labeling;
using Microsoft.Extensions.Configuration;

namespace Cai.Services.Stages.Tests;

public sealed class StageOptionsTests
{
    private static IConfiguration Config(params (string Key, string Value)[] settings) =>
        new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value))).Build();

    [Fact]
    public void Run_ids_accept_one_comma_separated_value_or_a_list()
    {
        Assert.Equal(["a", "b"], CritiqueOptions.FromConfiguration(Config(("Critique:RunIds", "a, b,a"))).RunIds);
        Assert.Equal(["x", "y"], LabelingOptions.FromConfiguration(Config(("Labeling:RunIds:0", "x"), ("Labeling:RunIds:1", "y"))).RunIds);
        Assert.Equal(3, CritiqueOptions.FromConfiguration(Config(("Critique:Rounds", "3"))).Rounds);
    }

    [Fact]
    public void Without_a_model_of_its_own_a_stage_uses_the_runs_base_model()
    {
        Assert.Equal("models/default", CritiqueOptions.FromConfiguration(Config(("Cai:BaseModel", "models/default"))).Model);
        Assert.Equal("pm-policy", LabelingOptions.FromConfiguration(Config(("Cai:BaseModel", "models/default"), ("Labeling:Model", "pm-policy"))).Model);
    }

    [Fact]
    public void A_bad_value_is_refused_naming_its_key()
    {
        var unparsable = Assert.ThrowsAny<InvalidOperationException>(() => CritiqueOptions.FromConfiguration(Config(("Critique:Rounds", "many"))));
        Assert.Contains("Critique:Rounds", unparsable.Message);
        var invalid = Assert.ThrowsAny<InvalidOperationException>(() => LabelingOptions.FromConfiguration(Config(("Labeling:RunRefreshInterval", "00:00:00"))));
        Assert.Contains("Labeling:RunRefreshInterval", invalid.Message);
        var dtype = Assert.ThrowsAny<InvalidOperationException>(() => Cai.Services.PreferenceModel.PreferenceModelServiceOptions.FromConfiguration(Config(("PreferenceModel:ScoreDtype", "fp16"))));
        Assert.Contains("PreferenceModel:ScoreDtype", dtype.Message);
        Assert.Equal(TorchSharp.torch.ScalarType.BFloat16,
            Cai.Services.PreferenceModel.PreferenceModelServiceOptions.FromConfiguration(Config(("PreferenceModel:ScoreDtype", "bf16"))).ScoreDtype);
    }
}
