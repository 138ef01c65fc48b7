using System.Text.Json;
using System.Text.Json.Nodes;

namespace Cai.Modeling;

/// <summary>
/// Shape of a Llama-family decoder-only language model (the "pretrained LM" every CAI stage starts
/// from), read from and written to a Hugging Face <c>config.json</c>. Supports <c>model_type</c>
/// llama, mistral and qwen2 without rope scaling or sliding-window attention; anything else is
/// refused by <see cref="Validate"/> with a message naming the field.
/// </summary>
public sealed record LlamaConfig
{
    public static readonly IReadOnlyList<string> SupportedModelTypes = ["llama", "mistral", "qwen2"];

    public string ModelType { get; init; } = "llama";
    public int HiddenSize { get; init; } = 256;
    public int IntermediateSize { get; init; } = 688;
    public int NumHiddenLayers { get; init; } = 6;
    public int NumAttentionHeads { get; init; } = 8;
    public int NumKeyValueHeads { get; init; } = 8;
    /// <summary>Per-head width; defaults to hidden_size / num_attention_heads when absent.</summary>
    public int? HeadDimOverride { get; init; }
    public int VocabSize { get; init; } = 2048;
    public int MaxPositionEmbeddings { get; init; } = 512;
    public double RmsNormEps { get; init; } = 1e-5;
    public double RopeTheta { get; init; } = 10000.0;
    public bool TieWordEmbeddings { get; init; }
    /// <summary>Bias on q/k/v projections (always on for qwen2; on for llama when attention_bias).</summary>
    public bool QkvBias { get; init; }
    /// <summary>Bias on o_proj (llama's attention_bias puts it on all four projections; qwen2 never).</summary>
    public bool OutputBias { get; init; }
    public int? BosTokenId { get; init; }
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];
    public int? PadTokenId { get; init; }
    /// <summary>The dtype the weights were stored in ("float32", "bfloat16", ...), informational.</summary>
    public string TorchDtype { get; init; } = "float32";
    public double InitializerRange { get; init; } = 0.02;

    public int HeadDim => HeadDimOverride ?? HiddenSize / NumAttentionHeads;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first inconsistent field.</summary>
    public LlamaConfig Validate()
    {
        if (!SupportedModelTypes.Contains(ModelType))
            throw new NotSupportedException($"config.json: model_type '{ModelType}' is not supported (supported: {string.Join(", ", SupportedModelTypes)}).");
        Require(HiddenSize > 0, "hidden_size", "must be positive");
        Require(IntermediateSize > 0, "intermediate_size", "must be positive");
        Require(NumHiddenLayers > 0, "num_hidden_layers", "must be positive");
        Require(NumAttentionHeads > 0, "num_attention_heads", "must be positive");
        Require(NumKeyValueHeads > 0 && NumAttentionHeads % NumKeyValueHeads == 0, "num_key_value_heads",
            $"({NumKeyValueHeads}) must divide num_attention_heads ({NumAttentionHeads})");
        Require(HeadDimOverride is not null || HiddenSize % NumAttentionHeads == 0, "hidden_size",
            $"({HiddenSize}) must be divisible by num_attention_heads ({NumAttentionHeads})");
        Require(HeadDim % 2 == 0, "head_dim", $"({HeadDim}) must be even for rotary embeddings");
        Require(VocabSize > 0, "vocab_size", "must be positive");
        Require(MaxPositionEmbeddings > 0, "max_position_embeddings", "must be positive");
        Require(RmsNormEps > 0, "rms_norm_eps", "must be positive");
        Require(RopeTheta > 0, "rope_theta", "must be positive");
        return this;

        static void Require(bool ok, string field, string message)
        {
            if (!ok) throw new ArgumentException($"config.json: {field} {message}.", field);
        }
    }

    public static LlamaConfig Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Model config not found: {path}", path);
        JsonObject root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                ?? throw new InvalidDataException($"{path}: expected a JSON object.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: invalid JSON: {e.Message}", e);
        }
        try
        {
            return FromJson(root);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or InvalidDataException)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>Parses a config.json object, refusing options this implementation does not compute.</summary>
    public static LlamaConfig FromJson(JsonObject j)
    {
        var modelType = Str(j, "model_type") ?? throw new InvalidDataException("config.json: model_type is missing.");
        if (!SupportedModelTypes.Contains(modelType))
            throw new NotSupportedException($"config.json: model_type '{modelType}' is not supported (supported: {string.Join(", ", SupportedModelTypes)}).");

        // Options that change the computation and that this model does not implement are refused
        // rather than silently ignored: a checkpoint would load and produce wrong logits.
        var refused = new List<string>();
        if (j["rope_scaling"] is JsonNode rs && rs.GetValueKind() != JsonValueKind.Null) refused.Add("rope_scaling");
        if (Str(j, "hidden_act") is string act && act != "silu") refused.Add($"hidden_act={act}");
        if (Bool(j, "mlp_bias") == true) refused.Add("mlp_bias");
        if (modelType == "qwen2" && Bool(j, "use_sliding_window") == true) refused.Add("use_sliding_window");
        if (modelType == "mistral" && Int(j, "sliding_window") is int sw
            && sw < (Int(j, "max_position_embeddings") ?? int.MaxValue)) refused.Add($"sliding_window={sw}");
        if (refused.Count > 0)
            throw new NotSupportedException($"config.json: unsupported option(s) for {modelType}: {string.Join(", ", refused)}.");

        bool attentionBias = Bool(j, "attention_bias") ?? false;
        var heads = Need(j, "num_attention_heads");
        var config = new LlamaConfig
        {
            ModelType = modelType,
            HiddenSize = Need(j, "hidden_size"),
            IntermediateSize = Need(j, "intermediate_size"),
            NumHiddenLayers = Need(j, "num_hidden_layers"),
            NumAttentionHeads = heads,
            NumKeyValueHeads = Int(j, "num_key_value_heads") ?? heads,
            HeadDimOverride = Int(j, "head_dim"),
            VocabSize = Need(j, "vocab_size"),
            MaxPositionEmbeddings = Int(j, "max_position_embeddings") ?? 2048,
            RmsNormEps = Dbl(j, "rms_norm_eps") ?? 1e-6,
            RopeTheta = Dbl(j, "rope_theta") ?? 10000.0,
            TieWordEmbeddings = Bool(j, "tie_word_embeddings") ?? false,
            QkvBias = modelType == "qwen2" || attentionBias,
            OutputBias = modelType != "qwen2" && attentionBias,
            BosTokenId = Int(j, "bos_token_id"),
            EosTokenIds = j["eos_token_id"] switch
            {
                JsonArray a => a.Select(x => int.Parse(x!.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture)).ToArray(),
                JsonValue v when v.GetValueKind() == JsonValueKind.Number => [Int(j, "eos_token_id")!.Value],
                _ => [],
            },
            PadTokenId = Int(j, "pad_token_id"),
            TorchDtype = Str(j, "torch_dtype") ?? Str(j, "dtype") ?? "float32",
            InitializerRange = Dbl(j, "initializer_range") ?? 0.02,
        };
        return config.Validate();
    }

    /// <summary>Writes a config.json that Hugging Face transformers reads back as the same model.</summary>
    /// <param name="head">The HF class suffix: "ForCausalLM" for a language model,
    /// "ForSequenceClassification" for a scalar-head model; prefixed with the family's name.</param>
    public JsonObject ToJson(string head = "ForCausalLM")
    {
        var family = ModelType switch
        {
            "mistral" => "Mistral",
            "qwen2" => "Qwen2",
            _ => "Llama",
        };
        var j = new JsonObject
        {
            ["architectures"] = new JsonArray(family + head),
            ["model_type"] = ModelType,
            ["hidden_size"] = HiddenSize,
            ["intermediate_size"] = IntermediateSize,
            ["num_hidden_layers"] = NumHiddenLayers,
            ["num_attention_heads"] = NumAttentionHeads,
            ["num_key_value_heads"] = NumKeyValueHeads,
            ["vocab_size"] = VocabSize,
            ["max_position_embeddings"] = MaxPositionEmbeddings,
            ["rms_norm_eps"] = RmsNormEps,
            ["rope_theta"] = RopeTheta,
            ["rope_scaling"] = null,
            ["hidden_act"] = "silu",
            ["tie_word_embeddings"] = TieWordEmbeddings,
            ["initializer_range"] = InitializerRange,
            ["torch_dtype"] = TorchDtype,
        };
        if (HeadDimOverride is int hd) j["head_dim"] = hd;
        if (ModelType != "qwen2") j["attention_bias"] = QkvBias;
        if (ModelType == "qwen2") j["use_sliding_window"] = false;
        if (BosTokenId is int bos) j["bos_token_id"] = bos;
        if (EosTokenIds.Count == 1) j["eos_token_id"] = EosTokenIds[0];
        else if (EosTokenIds.Count > 1) j["eos_token_id"] = new JsonArray(EosTokenIds.Select(e => (JsonNode)e).ToArray());
        if (PadTokenId is int pad) j["pad_token_id"] = pad;
        return j;
    }

    public void Save(string path, string head = "ForCausalLM", Action<JsonObject>? extra = null)
    {
        var j = ToJson(head);
        extra?.Invoke(j);
        File.WriteAllText(path, j.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    private static string? Str(JsonObject j, string k) =>
        j[k] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;
    private static bool? Bool(JsonObject j, string k) =>
        j[k] is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False ? v.GetValue<bool>() : null;
    // Through the JSON text, so parsed and in-memory numbers (int, long, double) read alike.
    private static double? Dbl(JsonObject j, string k) =>
        j[k] is JsonValue v && v.GetValueKind() == JsonValueKind.Number
            ? double.Parse(v.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture) : null;
    private static int? Int(JsonObject j, string k) => Dbl(j, k) is double d
        ? (d == Math.Floor(d) && Math.Abs(d) <= int.MaxValue ? (int)d : throw new InvalidDataException($"config.json: {k} must be an integer, got {d}."))
        : null;
    private static int Need(JsonObject j, string k) =>
        Int(j, k) ?? throw new InvalidDataException($"config.json: {k} is missing or not a number.");
}
