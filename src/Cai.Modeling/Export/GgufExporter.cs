using TorchSharp;
using static TorchSharp.torch;

namespace Cai.Modeling.Export;

/// <summary>Element type of the exported weight matrices (norms and biases always stay float32).</summary>
public enum GgufDtype { F32, F16, BF16 }

/// <summary>Options of <see cref="GgufExporter.Export"/>.</summary>
public sealed record GgufExportOptions
{
    public GgufDtype Dtype { get; init; } = GgufDtype.F32;
    /// <summary><c>general.name</c>; the checkpoint folder's name when null.</summary>
    public string? Name { get; init; }
    /// <summary>
    /// Export a checkpoint that has no tokenizer.json with <c>tokenizer.ggml.model = "none"</c>:
    /// llama.cpp then runs on token ids only (no text in, no text out). Off by default, because a
    /// GGUF meant for Ollama or llama.cpp's chat is useless without its tokenizer.
    /// </summary>
    public bool AllowMissingTokenizer { get; init; }
}

/// <summary>What an export wrote.</summary>
public sealed record GgufExportReport(string Path, string Architecture, int Tensors, long Bytes, string Tokenizer);

/// <summary>
/// Exports a checkpoint this project trains (the policy after SL-CAI or RL-CAI, in the HF layout)
/// to one GGUF file that llama.cpp, Ollama and LM Studio run. Llama and Mistral checkpoints become
/// llama.cpp's <c>llama</c> architecture, Qwen2 its <c>qwen2</c> architecture. Scalar-head models
/// (preference and value models) are refused: llama.cpp runs language models only.
/// </summary>
public static class GgufExporter
{
    public const string TokenizerFile = "tokenizer.json";

    public static GgufExportReport Export(string modelDirectory, string outPath, GgufExportOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        options ??= new GgufExportOptions();
        if (!Directory.Exists(modelDirectory)) throw new DirectoryNotFoundException($"Model folder not found: {modelDirectory}");
        var config = LlamaConfig.Load(Path.Combine(modelDirectory, Checkpoint.ConfigFile));
        var tokenizerPath = Path.Combine(modelDirectory, TokenizerFile);
        GgufVocabulary? vocabulary = null;
        if (File.Exists(tokenizerPath))
            vocabulary = GgufVocabulary.FromTokenizerJson(tokenizerPath, config.VocabSize, config.BosTokenId,
                config.EosTokenIds.Count > 0 ? config.EosTokenIds[0] : null, config.PadTokenId, cancellationToken);
        else if (!options.AllowMissingTokenizer)
            throw new FileNotFoundException($"{modelDirectory} has no {TokenizerFile}: without it llama.cpp and Ollama cannot tokenize text. Export anyway with the tokenizer-less option (token ids only).", tokenizerPath);

        var tensors = Checkpoint.ReadTensors(modelDirectory);
        try
        {
            var name = options.Name ?? new DirectoryInfo(modelDirectory).Name;
            var writer = Build(config, tensors, vocabulary, options.Dtype, name);
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
            writer.Write(outPath, cancellationToken);
            return new GgufExportReport(outPath, Architecture(config), writer.TensorNames.Count, new FileInfo(outPath).Length,
                vocabulary?.Description ?? "none (token ids only)");
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    /// <summary>llama.cpp's architecture name for a config (Mistral without a sliding window is Llama).</summary>
    public static string Architecture(LlamaConfig config) => config.ModelType == "qwen2" ? "qwen2" : "llama";

    /// <summary>The GGUF writer holding metadata and tensors of an HF-named state dict (not yet written).</summary>
    public static GgufWriter Build(LlamaConfig config, IReadOnlyDictionary<string, Tensor> tensors, GgufVocabulary? vocabulary,
        GgufDtype dtype, string name)
    {
        config.Validate();
        if (tensors.ContainsKey("score.weight"))
            throw new NotSupportedException("The checkpoint has score.weight: it is a scalar-head (preference or value) model, which llama.cpp cannot run; export the policy (a language model).");
        var arch = Architecture(config);
        // qwen2 in llama.cpp: biases on q, k, v and none on the output projection, exactly what a
        // Qwen2 checkpoint has. A Qwen2 config here never has an output bias (see LlamaConfig).
        if (arch == "qwen2" && (!config.QkvBias || config.OutputBias))
            throw new NotSupportedException("qwen2 export needs q/k/v biases and no output-projection bias.");

        var w = new GgufWriter();
        w.AddString("general.architecture", arch);
        w.AddString("general.name", name);
        w.AddUInt32("general.file_type", dtype switch { GgufDtype.F32 => 0u, GgufDtype.F16 => 1u, _ => 32u });
        w.AddUInt32($"{arch}.context_length", (uint)config.MaxPositionEmbeddings);
        w.AddUInt32($"{arch}.embedding_length", (uint)config.HiddenSize);
        w.AddUInt32($"{arch}.block_count", (uint)config.NumHiddenLayers);
        w.AddUInt32($"{arch}.feed_forward_length", (uint)config.IntermediateSize);
        w.AddUInt32($"{arch}.attention.head_count", (uint)config.NumAttentionHeads);
        w.AddUInt32($"{arch}.attention.head_count_kv", (uint)config.NumKeyValueHeads);
        w.AddFloat32($"{arch}.attention.layer_norm_rms_epsilon", (float)config.RmsNormEps);
        w.AddFloat32($"{arch}.rope.freq_base", (float)config.RopeTheta);
        w.AddUInt32($"{arch}.rope.dimension_count", (uint)config.HeadDim);
        if (config.HeadDimOverride is int headDim && headDim * config.NumAttentionHeads != config.HiddenSize)
        {
            // A head width that is not hidden/heads has to be stated, or llama.cpp derives the wrong one.
            w.AddUInt32($"{arch}.attention.key_length", (uint)headDim);
            w.AddUInt32($"{arch}.attention.value_length", (uint)headDim);
        }
        w.AddUInt32($"{arch}.vocab_size", (uint)config.VocabSize);
        if (vocabulary is null) w.AddString("tokenizer.ggml.model", "none");
        else
        {
            if (vocabulary.Tokens.Count != config.VocabSize)
                throw new NotSupportedException($"The tokenizer has {vocabulary.Tokens.Count} tokens, the model's vocab_size is {config.VocabSize}.");
            vocabulary.WriteTo(w);
        }

        var used = new HashSet<string>(StringComparer.Ordinal);
        var matrixType = dtype switch { GgufDtype.F32 => GgufTensorType.F32, GgufDtype.F16 => GgufTensorType.F16, _ => GgufTensorType.BF16 };
        void Map(string hf, string gguf, Func<Tensor, Tensor>? transform = null, bool optional = false)
        {
            if (!tensors.TryGetValue(hf, out var t))
            {
                if (optional) return;
                throw new InvalidDataException($"Checkpoint tensor '{hf}' is missing.");
            }
            used.Add(hf);
            // Norm weights and biases stay float32: llama.cpp adds and multiplies them in float32.
            var type = t.dim() == 1 ? GgufTensorType.F32 : matrixType;
            w.AddTensor(gguf, t.shape, type, () =>
            {
                using var scope = NewDisposeScope();
                var f = t.to(ScalarType.Float32);
                if (transform is not null) f = transform(f);
                return f.contiguous().data<float>().ToArray();
            });
        }

        // HF rotates the two halves of each head (rotate-half); llama.cpp's `llama` rotates adjacent
        // pairs. Reordering the rows of q/k (per head: halves interleaved) makes the two agree.
        // qwen2 in llama.cpp already uses the half-split (NeoX) rotation, so its rows stay as they are.
        bool permute = arch == "llama";
        Func<Tensor, Tensor>? Rows(int heads) => permute ? t => InterleaveHalves(t, heads) : null;

        Map("model.embed_tokens.weight", "token_embd.weight");
        for (int i = 0; i < config.NumHiddenLayers; i++)
        {
            var p = $"model.layers.{i}.";
            var b = $"blk.{i}.";
            Map(p + "input_layernorm.weight", b + "attn_norm.weight");
            Map(p + "self_attn.q_proj.weight", b + "attn_q.weight", Rows(config.NumAttentionHeads));
            Map(p + "self_attn.k_proj.weight", b + "attn_k.weight", Rows(config.NumKeyValueHeads));
            Map(p + "self_attn.v_proj.weight", b + "attn_v.weight");
            Map(p + "self_attn.o_proj.weight", b + "attn_output.weight");
            if (config.QkvBias)
            {
                Map(p + "self_attn.q_proj.bias", b + "attn_q.bias", Rows(config.NumAttentionHeads));
                Map(p + "self_attn.k_proj.bias", b + "attn_k.bias", Rows(config.NumKeyValueHeads));
                Map(p + "self_attn.v_proj.bias", b + "attn_v.bias");
            }
            if (config.OutputBias) Map(p + "self_attn.o_proj.bias", b + "attn_output.bias");
            Map(p + "post_attention_layernorm.weight", b + "ffn_norm.weight");
            Map(p + "mlp.gate_proj.weight", b + "ffn_gate.weight");
            Map(p + "mlp.up_proj.weight", b + "ffn_up.weight");
            Map(p + "mlp.down_proj.weight", b + "ffn_down.weight");
        }
        Map("model.norm.weight", "output_norm.weight");
        // Tied embeddings: no output.weight, llama.cpp then reuses token_embd.weight for the LM head.
        if (!config.TieWordEmbeddings) Map("lm_head.weight", "output.weight");
        else used.Add("lm_head.weight");

        var unexpected = tensors.Keys.Where(k => !used.Contains(k)).Order(StringComparer.Ordinal).ToList();
        if (unexpected.Count > 0)
            throw new NotSupportedException($"Checkpoint tensor '{unexpected[0]}'{(unexpected.Count > 1 ? $" and {unexpected.Count - 1} more" : "")} has no place in llama.cpp's {arch} architecture.");
        return w;
    }

    /// <summary>
    /// Reorders the output rows of a q/k projection (weight (heads*D, C) or bias (heads*D)) from
    /// rotate-half order (per head: all first-half dims, then all second-half dims) to adjacent
    /// pairs (dim i of the first half next to dim i of the second).
    /// </summary>
    public static Tensor InterleaveHalves(Tensor t, int heads)
    {
        var rows = t.shape[0];
        var headDim = rows / heads;
        if (rows % heads != 0 || headDim % 2 != 0)
            throw new ArgumentException($"Cannot split {rows} rows into {heads} heads of even width.", nameof(t));
        var rest = t.shape.Skip(1).ToArray();
        return t.reshape([heads, 2, headDim / 2, .. rest]).transpose(1, 2).reshape(t.shape);
    }
}
