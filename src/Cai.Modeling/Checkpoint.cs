using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace Cai.Modeling;

/// <summary>
/// Checkpoints in the Hugging Face layout: a folder with <c>config.json</c> and either
/// <c>model.safetensors</c> or shards listed in <c>model.safetensors.index.json</c>. Loading is
/// strict: a missing, unexpected or mis-shaped tensor is an error naming it.
/// </summary>
public static class Checkpoint
{
    public const string ConfigFile = "config.json";
    public const string WeightsFile = "model.safetensors";
    public const string IndexFile = "model.safetensors.index.json";

    /// <summary>Saves a language model; <paramref name="storeDtype"/> is Float32 or BFloat16.</summary>
    public static void Save(LlamaForCausalLM model, string directory, ScalarType storeDtype = ScalarType.Float32) =>
        SaveModule(model, model.Config, directory, storeDtype, "ForCausalLM");

    /// <summary>Loads a language model onto <paramref name="device"/> (CPU when null) with float32 weights.</summary>
    public static LlamaForCausalLM LoadCausalLM(string directory, Device? device = null)
    {
        var config = LlamaConfig.Load(Path.Combine(directory, ConfigFile));
        var model = new LlamaForCausalLM(config, device);
        // HF writes lm_head.weight into some tied checkpoints as a copy of the embeddings: tolerated.
        var ignore = config.TieWordEmbeddings ? new HashSet<string> { "lm_head.weight" } : null;
        LoadInto(model, directory, ignore);
        return model;
    }

    /// <summary>Writes config.json and model.safetensors for any module whose parameter names are HF names.</summary>
    /// <param name="head">HF class suffix, see <see cref="LlamaConfig.ToJson"/>.</param>
    public static void SaveModule(nn.Module module, LlamaConfig config, string directory, ScalarType storeDtype,
        string head, Action<System.Text.Json.Nodes.JsonObject>? extraConfig = null)
    {
        if (storeDtype is not (ScalarType.Float32 or ScalarType.BFloat16))
            throw new ArgumentException($"storeDtype must be Float32 or BFloat16, got {storeDtype}.", nameof(storeDtype));
        Directory.CreateDirectory(directory);
        (config with { TorchDtype = storeDtype == ScalarType.BFloat16 ? "bfloat16" : "float32" })
            .Save(Path.Combine(directory, ConfigFile), head, extraConfig);
        var weights = Path.Combine(directory, WeightsFile);
        // Write beside and rename, so a crash never leaves a half-written checkpoint under the real name.
        var temp = weights + ".tmp";
        Safetensors.Write(temp, module.named_parameters().Select(p => (p.name, (Tensor)p.parameter)), storeDtype);
        File.Move(temp, weights, overwrite: true);
        var index = Path.Combine(directory, IndexFile);
        if (File.Exists(index)) File.Delete(index);
    }

    /// <summary>Reads every tensor of a checkpoint folder (single file or sharded) onto the CPU.</summary>
    public static Dictionary<string, Tensor> ReadTensors(string directory)
    {
        var single = Path.Combine(directory, WeightsFile);
        var index = Path.Combine(directory, IndexFile);
        if (File.Exists(single)) return Safetensors.Read(single);
        if (!File.Exists(index))
            throw new FileNotFoundException($"No {WeightsFile} or {IndexFile} in {directory}.", single);

        Dictionary<string, string> weightMap;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(index));
            weightMap = doc.RootElement.GetProperty("weight_map").EnumerateObject()
                .ToDictionary(p => p.Name, p => p.Value.GetString()!);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new InvalidDataException($"{index}: expected {{\"weight_map\": {{tensor: file}}}}: {e.Message}", e);
        }
        var result = new Dictionary<string, Tensor>();
        foreach (var shard in weightMap.Values.Distinct())
        {
            var shardPath = Path.Combine(directory, shard);
            if (!File.Exists(shardPath)) throw new FileNotFoundException($"{index}: shard '{shard}' is missing.", shardPath);
            foreach (var (name, t) in Safetensors.Read(shardPath))
            {
                if (!weightMap.TryGetValue(name, out var owner) || owner != shard)
                    throw new InvalidDataException($"{shardPath}: tensor '{name}' is not mapped to this shard in {IndexFile}.");
                result[name] = t;
            }
        }
        var absent = weightMap.Keys.Where(k => !result.ContainsKey(k)).ToList();
        if (absent.Count > 0) throw new InvalidDataException($"{index}: tensor '{absent[0]}' is listed but not found in its shard.");
        return result;
    }

    /// <summary>
    /// Copies a checkpoint's tensors into <paramref name="module"/>'s parameters (converting dtype
    /// and device). Names in <paramref name="ignore"/> may be present in the file and are skipped;
    /// names in <paramref name="optional"/> may be absent and keep their current values.
    /// </summary>
    public static void LoadInto(nn.Module module, string directory, IReadOnlySet<string>? ignore = null, IReadOnlySet<string>? optional = null)
    {
        var tensors = ReadTensors(directory);
        try
        {
            LoadInto(module, tensors, directory, ignore, optional);
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    /// <inheritdoc cref="LoadInto(nn.Module, string, IReadOnlySet{string}?, IReadOnlySet{string}?)"/>
    public static void LoadInto(nn.Module module, IReadOnlyDictionary<string, Tensor> tensors, string source,
        IReadOnlySet<string>? ignore = null, IReadOnlySet<string>? optional = null)
    {
        var parameters = module.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        // Old HF checkpoints carry the rotary frequencies as a buffer; they are recomputed here.
        var extra = tensors.Keys.Where(k => !parameters.ContainsKey(k) && ignore?.Contains(k) != true
                                            && !k.EndsWith("rotary_emb.inv_freq", StringComparison.Ordinal)).ToList();
        if (extra.Count > 0)
            throw new InvalidDataException($"{source}: unexpected tensor '{extra[0]}' (not a parameter of {module.GetName()}){More(extra)}.");
        var missing = parameters.Keys.Where(k => !tensors.ContainsKey(k) && optional?.Contains(k) != true).ToList();
        if (missing.Count > 0)
            throw new InvalidDataException($"{source}: missing tensor '{missing[0]}'{More(missing)}.");
        foreach (var (name, p) in parameters)
        {
            if (!tensors.TryGetValue(name, out var t)) continue;
            if (!t.shape.SequenceEqual(p.shape))
                throw new InvalidDataException($"{source}: tensor '{name}' has shape [{string.Join(", ", t.shape)}], the model expects [{string.Join(", ", p.shape)}].");
        }
        using var noGrad = no_grad();
        foreach (var (name, p) in parameters)
            if (tensors.TryGetValue(name, out var t)) p.copy_(t);

        static string More(List<string> names) => names.Count > 1 ? $" and {names.Count - 1} more" : "";
    }
}
