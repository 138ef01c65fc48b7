using System.Text.Json.Nodes;
using Cai.Modeling;
using static Cai.Modeling.Tests.TestSupport;

namespace Cai.Modeling.Tests;

public class ConfigTests
{
    private static JsonObject Hf(string modelType) => new()
    {
        ["model_type"] = modelType, ["hidden_size"] = 64, ["intermediate_size"] = 128, ["num_hidden_layers"] = 2,
        ["num_attention_heads"] = 4, ["num_key_value_heads"] = 2, ["vocab_size"] = 100, ["max_position_embeddings"] = 128,
        ["rms_norm_eps"] = 1e-6, ["rope_theta"] = 500000.0, ["tie_word_embeddings"] = true, ["bos_token_id"] = 1,
        ["eos_token_id"] = new JsonArray(2, 3), ["torch_dtype"] = "bfloat16", ["hidden_act"] = "silu",
    };

    [Fact]
    public void ReadsHuggingFaceFields()
    {
        var c = LlamaConfig.FromJson(Hf("llama"));
        Assert.Equal(64, c.HiddenSize);
        Assert.Equal(2, c.NumKeyValueHeads);
        Assert.Equal(16, c.HeadDim);
        Assert.Equal(500000.0, c.RopeTheta);
        Assert.True(c.TieWordEmbeddings);
        Assert.Equal([2, 3], c.EosTokenIds);
        Assert.Equal("bfloat16", c.TorchDtype);
        Assert.False(c.QkvBias);

        var qwen = LlamaConfig.FromJson(Hf("qwen2"));
        Assert.True(qwen.QkvBias);
        Assert.False(qwen.OutputBias);
        var biased = Hf("llama");
        biased["attention_bias"] = true;
        var llamaBias = LlamaConfig.FromJson(biased);
        Assert.True(llamaBias.QkvBias && llamaBias.OutputBias);
    }

    [Fact]
    public void RoundTripsThroughConfigJson()
    {
        var dir = TempDir();
        var path = Path.Combine(dir, "config.json");
        var c = LlamaConfig.FromJson(Hf("mistral"));
        c.Save(path);
        Assert.Equal(c with { EosTokenIds = [] }, LlamaConfig.Load(path) with { EosTokenIds = [] });
        Assert.Equal(c.EosTokenIds, LlamaConfig.Load(path).EosTokenIds);
        Assert.Equal("MistralForCausalLM", JsonNode.Parse(File.ReadAllText(path))!["architectures"]![0]!.GetValue<string>());
    }

    [Fact]
    public void UnsupportedModelTypeIsRefusedByName()
    {
        var e = Assert.Throws<NotSupportedException>(() => LlamaConfig.FromJson(Hf("gpt_neox")));
        Assert.Contains("model_type 'gpt_neox'", e.Message);
    }

    [Fact]
    public void UnsupportedOptionsAreRefusedByName()
    {
        var scaled = Hf("llama");
        scaled["rope_scaling"] = new JsonObject { ["type"] = "linear", ["factor"] = 2.0 };
        Assert.Contains("rope_scaling", Assert.Throws<NotSupportedException>(() => LlamaConfig.FromJson(scaled)).Message);

        var sliding = Hf("mistral");
        sliding["sliding_window"] = 32;
        Assert.Contains("sliding_window=32", Assert.Throws<NotSupportedException>(() => LlamaConfig.FromJson(sliding)).Message);

        var qwenSliding = Hf("qwen2");
        qwenSliding["use_sliding_window"] = true;
        Assert.Contains("use_sliding_window", Assert.Throws<NotSupportedException>(() => LlamaConfig.FromJson(qwenSliding)).Message);

        // A window as long as the context is no window at all.
        var harmless = Hf("mistral");
        harmless["sliding_window"] = 128;
        Assert.Equal("mistral", LlamaConfig.FromJson(harmless).ModelType);
    }

    [Fact]
    public void InconsistentShapesAreRefusedByField()
    {
        var bad = Hf("llama");
        bad["num_key_value_heads"] = 3;
        Assert.Contains("num_key_value_heads", Assert.Throws<ArgumentException>(() => LlamaConfig.FromJson(bad)).Message);
        var missing = Hf("llama");
        missing.Remove("vocab_size");
        Assert.Contains("vocab_size", Assert.Throws<InvalidDataException>(() => LlamaConfig.FromJson(missing)).Message);
    }
}
