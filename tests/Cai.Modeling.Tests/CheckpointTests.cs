using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Cai.Modeling;
using static TorchSharp.torch;
using static Cai.Modeling.Tests.TestSupport;

namespace Cai.Modeling.Tests;

public class CheckpointTests
{
    private static readonly Tensor Probe = Ids([1, 7, 3, 12, 40, 2]);

    [Fact]
    public void Float32SaveThenLoadGivesIdenticalLogits()
    {
        var m = Model();
        var dir = TempDir();
        Checkpoint.Save(m, dir);
        var loaded = Checkpoint.LoadCausalLM(dir);
        using var _ = inference_mode();
        Assert.True(Identical(m.Forward(Probe).Logits, loaded.Forward(Probe).Logits));
        Assert.Equal("float32", LlamaConfig.Load(Path.Combine(dir, "config.json")).TorchDtype);
    }

    [Fact]
    public void BFloat16SaveThenLoadGivesIdenticalLogitsToTheRoundedModel()
    {
        var m = Model(Tiny(tied: true, modelType: "qwen2", qkvBias: true));
        using (no_grad())
            foreach (var p in m.parameters()) p.copy_(p.to(ScalarType.BFloat16).to(ScalarType.Float32));
        var dir = TempDir();
        Checkpoint.Save(m, dir, ScalarType.BFloat16);
        var header = Safetensors.ReadHeader(Path.Combine(dir, "model.safetensors"));
        Assert.All(header.Entries, e => Assert.Equal("BF16", e.DType));
        var loaded = Checkpoint.LoadCausalLM(dir);
        Assert.Equal(ScalarType.Float32, loaded.DType);
        using var _ = inference_mode();
        Assert.True(Identical(m.Forward(Probe).Logits, loaded.Forward(Probe).Logits));
    }

    [Fact]
    public void SavedFileParsesWithAnIndependentParser()
    {
        var m = Model();
        var dir = TempDir();
        Checkpoint.Save(m, dir);
        var bytes = File.ReadAllBytes(Path.Combine(dir, "model.safetensors"));

        // Minimal parser written from the format description, sharing nothing with the library.
        long n = BitConverter.ToInt64(bytes, 0);
        Assert.Equal(0, (8 + n) % 8);
        var json = Encoding.UTF8.GetString(bytes, 8, (int)n);
        Assert.Equal(json.TrimEnd(), json.TrimEnd(' ')); // only spaces pad the header
        using var doc = JsonDocument.Parse(json);
        var expected = m.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var ranges = new List<(long Begin, long End)>();
        int count = 0;
        foreach (var entry in doc.RootElement.EnumerateObject())
        {
            if (entry.Name == "__metadata__") continue;
            count++;
            Assert.True(expected.ContainsKey(entry.Name), entry.Name);
            var p = expected[entry.Name];
            Assert.Equal("F32", entry.Value.GetProperty("dtype").GetString());
            Assert.Equal(p.shape, entry.Value.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray());
            var off = entry.Value.GetProperty("data_offsets").EnumerateArray().Select(x => x.GetInt64()).ToArray();
            Assert.Equal(p.numel() * 4, off[1] - off[0]);
            ranges.Add((off[0], off[1]));
            // The first value of each tensor sits at its offset, little-endian.
            var first = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan((int)(8 + n + off[0]), 4));
            Assert.Equal(p.flatten()[0].item<float>(), first);
        }
        Assert.Equal(expected.Count, count);
        ranges.Sort();
        Assert.Equal(0, ranges[0].Begin);
        for (int i = 1; i < ranges.Count; i++) Assert.Equal(ranges[i - 1].End, ranges[i].Begin);
        Assert.Equal(bytes.Length - 8 - n, ranges[^1].End);
    }

    /// <summary>A safetensors writer written from the format description, independent of the library.</summary>
    private static void WriteIndependently(string path, IEnumerable<(string Name, long[] Shape, float[] Values)> tensors)
    {
        var header = new StringBuilder("{\"__metadata__\":{\"format\":\"pt\"}");
        var data = new MemoryStream();
        foreach (var (name, shape, values) in tensors)
        {
            long begin = data.Length;
            foreach (var v in values) { var b = new byte[4]; BinaryPrimitives.WriteSingleLittleEndian(b, v); data.Write(b); }
            header.Append($",\"{name}\":{{\"dtype\":\"F32\",\"shape\":[{string.Join(",", shape)}],\"data_offsets\":[{begin},{data.Length}]}}");
        }
        header.Append('}');
        while ((header.Length + 8) % 8 != 0) header.Append(' ');
        using var f = File.Create(path);
        var len = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(len, header.Length);
        f.Write(len);
        f.Write(Encoding.UTF8.GetBytes(header.ToString()));
        f.Write(data.ToArray());
    }

    /// <summary>HF names and shapes of the tiny config, with deterministic pseudo-random values.</summary>
    private static List<(string Name, long[] Shape, float[] Values)> HfTensors(LlamaConfig c)
    {
        var rng = new Random(42);
        var list = new List<(string, long[], float[])>();
        void Add(string name, params long[] shape)
        {
            var n = shape.Aggregate(1L, (a, b) => a * b);
            var values = name.EndsWith("norm.weight") ? Enumerable.Repeat(1f, (int)n).ToArray()
                : Enumerable.Range(0, (int)n).Select(_ => (float)(rng.NextDouble() - 0.5) * 0.1f).ToArray();
            list.Add((name, shape, values));
        }
        long h = c.HiddenSize, kv = c.NumKeyValueHeads * c.HeadDim;
        Add("model.embed_tokens.weight", c.VocabSize, h);
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            var l = $"model.layers.{i}.";
            Add(l + "self_attn.q_proj.weight", h, h);
            Add(l + "self_attn.k_proj.weight", kv, h);
            Add(l + "self_attn.v_proj.weight", kv, h);
            Add(l + "self_attn.o_proj.weight", h, h);
            Add(l + "mlp.gate_proj.weight", c.IntermediateSize, h);
            Add(l + "mlp.up_proj.weight", c.IntermediateSize, h);
            Add(l + "mlp.down_proj.weight", h, c.IntermediateSize);
            Add(l + "input_layernorm.weight", h);
            Add(l + "post_attention_layernorm.weight", h);
        }
        Add("model.norm.weight", h);
        Add("lm_head.weight", c.VocabSize, h);
        return list;
    }

    [Fact]
    public void IndependentlyWrittenCheckpointLoadsAndComputes()
    {
        var c = Tiny();
        var dir = TempDir();
        c.Save(Path.Combine(dir, "config.json"));
        var tensors = HfTensors(c);
        WriteIndependently(Path.Combine(dir, "model.safetensors"), tensors);
        var m = Checkpoint.LoadCausalLM(dir);
        var q = m.named_parameters().First(p => p.name == "model.layers.1.self_attn.k_proj.weight").parameter;
        var written = tensors.First(t => t.Name == "model.layers.1.self_attn.k_proj.weight");
        Assert.Equal(written.Values, q.flatten().data<float>().ToArray());
        using var _ = inference_mode();
        var logits = m.Forward(Probe).Logits;
        Assert.True(logits.isfinite().all().item<bool>());
        // The lm head really is the written matrix: logits = hidden @ lm_head^T.
        var head = tensor(tensors.First(t => t.Name == "lm_head.weight").Values).view(c.VocabSize, c.HiddenSize);
        var hidden = m.Forward(Probe, returnHidden: true).Hidden!;
        Assert.True(MaxAbsDiff(hidden.matmul(head.t()), logits) < 1e-5);
    }

    [Fact]
    public void ShardedCheckpointLoads()
    {
        var c = Tiny();
        var dir = TempDir();
        c.Save(Path.Combine(dir, "config.json"));
        var tensors = HfTensors(c);
        var half = tensors.Count / 2;
        WriteIndependently(Path.Combine(dir, "model-00001-of-00002.safetensors"), tensors.Take(half));
        WriteIndependently(Path.Combine(dir, "model-00002-of-00002.safetensors"), tensors.Skip(half));
        var map = tensors.Select((t, i) => $"\"{t.Name}\":\"model-0000{(i < half ? 1 : 2)}-of-00002.safetensors\"");
        File.WriteAllText(Path.Combine(dir, "model.safetensors.index.json"), $"{{\"metadata\":{{}},\"weight_map\":{{{string.Join(",", map)}}}}}");
        var m = Checkpoint.LoadCausalLM(dir);
        var norm = m.named_parameters().First(p => p.name == "model.norm.weight").parameter;
        Assert.True(norm.eq(1).all().item<bool>());
        var emb = m.named_parameters().First(p => p.name == "model.embed_tokens.weight").parameter;
        Assert.Equal(tensors[0].Values[..5], emb.flatten().narrow(0, 0, 5).data<float>().ToArray());
    }

    [Fact]
    public void MissingExtraAndMisShapedTensorsAreNamed()
    {
        var c = Tiny();
        var complete = HfTensors(c);

        var missing = TempDir();
        c.Save(Path.Combine(missing, "config.json"));
        WriteIndependently(Path.Combine(missing, "model.safetensors"), complete.Where(t => t.Name != "model.layers.1.mlp.up_proj.weight"));
        var e1 = Assert.Throws<InvalidDataException>(() => Checkpoint.LoadCausalLM(missing));
        Assert.Contains("missing tensor 'model.layers.1.mlp.up_proj.weight'", e1.Message);

        var extra = TempDir();
        c.Save(Path.Combine(extra, "config.json"));
        WriteIndependently(Path.Combine(extra, "model.safetensors"), complete.Append(("model.layers.0.self_attn.q_norm.weight", [8L], new float[8])));
        var e2 = Assert.Throws<InvalidDataException>(() => Checkpoint.LoadCausalLM(extra));
        Assert.Contains("unexpected tensor 'model.layers.0.self_attn.q_norm.weight'", e2.Message);

        var shaped = TempDir();
        c.Save(Path.Combine(shaped, "config.json"));
        WriteIndependently(Path.Combine(shaped, "model.safetensors"),
            complete.Select(t => t.Name == "model.norm.weight" ? (t.Name, new long[] { 16 }, new float[16]) : t));
        var e3 = Assert.Throws<InvalidDataException>(() => Checkpoint.LoadCausalLM(shaped));
        Assert.Contains("'model.norm.weight' has shape [16], the model expects [32]", e3.Message);
    }

    [Fact]
    public void TruncatedFileIsRefusedWithItsName()
    {
        var m = Model();
        var dir = TempDir();
        Checkpoint.Save(m, dir);
        var path = Path.Combine(dir, "model.safetensors");
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^100]);
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.LoadCausalLM(dir));
        Assert.Contains("model.safetensors", e.Message);
    }
}
