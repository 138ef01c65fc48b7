using System.Text.Json;
using System.Text.Json.Nodes;

namespace Cai.Modeling.Tokenization;

/// <summary>
/// A Hugging Face <c>tokenizer.json</c> run by the native HF tokenizers library (through
/// Tokenizers.DotNet). That binding only offers encode (always with special tokens) and decode
/// (always skipping them), so the vocabulary, the post-processor's special-token template and the
/// BOS/EOS/PAD tokens are read from the JSON files here.
/// </summary>
public sealed class HfTokenizer : ITokenizer, IDisposable
{
    // The native binding keeps its tokenizers in an unsynchronised global map.
    private static readonly Lock NativeLock = new();

    private readonly Tokenizers.DotNet.Tokenizer _native;
    private readonly Dictionary<string, int> _tokenToId;
    private readonly Dictionary<int, string> _idToToken;
    private readonly int[] _prefix;
    private readonly int[] _suffix;
    private readonly string _folder;

    public int VocabSize { get; }
    public int? BosId { get; }
    public int? EosId { get; }
    public int? PadId { get; }

    /// <summary>Loads <c>tokenizer.json</c> (and <c>tokenizer_config.json</c> beside it when present).</summary>
    /// <param name="path">A tokenizer.json file, or a folder containing one.</param>
    public static HfTokenizer Load(string path) =>
        new(Directory.Exists(path) ? Path.Combine(path, "tokenizer.json") : path);

    private HfTokenizer(string tokenizerJson)
    {
        if (!File.Exists(tokenizerJson)) throw new FileNotFoundException($"Tokenizer file not found: {tokenizerJson}", tokenizerJson);
        JsonObject root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(tokenizerJson)) as JsonObject
                ?? throw new InvalidDataException($"{tokenizerJson}: expected a JSON object.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{tokenizerJson}: invalid JSON: {e.Message}", e);
        }
        if (root["model"] is not JsonObject model)
            throw new InvalidDataException($"{tokenizerJson}: 'model' is missing.");

        _tokenToId = new Dictionary<string, int>(StringComparer.Ordinal);
        switch (model["vocab"])
        {
            case JsonObject vocab: // WordLevel, BPE, WordPiece: {token: id}
                foreach (var (token, id) in vocab) _tokenToId[token] = id!.GetValue<int>();
                break;
            case JsonArray pieces: // Unigram: [[piece, score], ...], id = position
                for (int i = 0; i < pieces.Count; i++) _tokenToId[pieces[i]![0]!.GetValue<string>()] = i;
                break;
            default:
                throw new InvalidDataException($"{tokenizerJson}: model.vocab is missing.");
        }
        var specialIds = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var added in root["added_tokens"] as JsonArray ?? [])
        {
            var content = added!["content"]!.GetValue<string>();
            var id = added["id"]!.GetValue<int>();
            _tokenToId[content] = id;
            if (added["special"]?.GetValue<bool>() == true) specialIds[content] = id;
        }
        _idToToken = _tokenToId.GroupBy(kv => kv.Value).ToDictionary(g => g.Key, g => g.First().Key);
        VocabSize = _tokenToId.Count == 0 ? 0 : _tokenToId.Values.Max() + 1;
        (_prefix, _suffix) = SpecialTemplate(root["post_processor"], tokenizerJson);

        _folder = Path.GetDirectoryName(Path.GetFullPath(tokenizerJson))!;
        var configPath = Path.Combine(_folder, "tokenizer_config.json");
        JsonObject? config = null;
        if (File.Exists(configPath))
        {
            try { config = JsonNode.Parse(File.ReadAllText(configPath)) as JsonObject; }
            catch (JsonException e) { throw new InvalidDataException($"{configPath}: invalid JSON: {e.Message}", e); }
        }
        BosId = SpecialId(config, "bos_token", specialIds, ["<s>", "<|begin_of_text|>", "<bos>"], configPath);
        EosId = SpecialId(config, "eos_token", specialIds, ["</s>", "<|endoftext|>", "<|end_of_text|>", "<eos>"], configPath);
        PadId = SpecialId(config, "pad_token", specialIds, ["<pad>", "<|pad|>"], configPath);

        try
        {
            lock (NativeLock) _native = new Tokenizers.DotNet.Tokenizer(tokenizerJson);
        }
        catch (Tokenizers.DotNet.TokenizerException e)
        {
            throw new InvalidDataException($"{tokenizerJson}: the HF tokenizers library refused it: {e.Message}", e);
        }
    }

    /// <summary>Files that make up an HF tokenizer folder; copied beside a fine-tuned checkpoint.</summary>
    public static readonly IReadOnlyList<string> Files = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"];

    /// <summary>Copies the tokenizer files this tokenizer was loaded from into <paramref name="directory"/>.</summary>
    public void SaveTo(string directory)
    {
        Directory.CreateDirectory(directory);
        foreach (var name in Files)
        {
            var source = Path.Combine(_folder, name);
            var target = Path.Combine(directory, name);
            if (File.Exists(source) && Path.GetFullPath(source) != Path.GetFullPath(target)) File.Copy(source, target, overwrite: true);
        }
    }

    public int[] Encode(string text, bool addSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        uint[] ids;
        lock (NativeLock) ids = _native.Encode(text);
        var result = ids.Select(i => (int)i).ToArray();
        if (addSpecialTokens) return result;
        // The native binding always applies the post-processor: strip the template's markers again.
        int start = StartsWith(result, _prefix) ? _prefix.Length : 0;
        int end = result.Length - (EndsWith(result, _suffix) && result.Length - _suffix.Length >= start ? _suffix.Length : 0);
        return result[start..end];
    }

    public string Decode(IReadOnlyList<int> ids)
    {
        if (ids.Count == 0) return "";
        var native = new uint[ids.Count];
        for (int i = 0; i < native.Length; i++)
        {
            if (ids[i] < 0 || ids[i] >= VocabSize) throw new ArgumentOutOfRangeException(nameof(ids), $"Token id {ids[i]} is outside the vocabulary (size {VocabSize}).");
            native[i] = (uint)ids[i];
        }
        lock (NativeLock) return _native.Decode(native);
    }

    public int? TokenToId(string token) => _tokenToId.TryGetValue(token, out var id) ? id : null;

    public string? IdToToken(int id) => _idToToken.GetValueOrDefault(id);

    public void Dispose()
    {
        lock (NativeLock) _native.Dispose();
    }

    private int? SpecialId(JsonObject? config, string key, Dictionary<string, int> specials, string[] conventional, string configPath)
    {
        if (config is not null && config.ContainsKey(key))
        {
            // An explicit null (common for pad_token) means the model has no such token.
            if (config[key] is not JsonNode node) return null;
            var content = node is JsonObject o ? o["content"]?.GetValue<string>() : node.GetValueKind() == JsonValueKind.String ? node.GetValue<string>() : null;
            if (content is null) return null;
            return TokenToId(content) ?? throw new InvalidDataException($"{configPath}: {key} '{content}' is not in the vocabulary.");
        }
        foreach (var name in conventional)
            if (specials.TryGetValue(name, out var id)) return id;
        return null;
    }

    /// <summary>The ids the post-processor puts before and after a single sequence.</summary>
    private static (int[] Prefix, int[] Suffix) SpecialTemplate(JsonNode? post, string path)
    {
        if (post is not JsonObject p) return ([], []);
        switch (p["type"]?.GetValue<string>())
        {
            case "TemplateProcessing":
            {
                var prefix = new List<int>();
                var suffix = new List<int>();
                bool seenSequence = false;
                var specials = p["special_tokens"] as JsonObject;
                foreach (var piece in p["single"] as JsonArray ?? [])
                {
                    if (piece!["Sequence"] is not null) { seenSequence = true; continue; }
                    var name = piece["SpecialToken"]?["id"]?.GetValue<string>();
                    var ids = name is null ? null : specials?[name]?["ids"] as JsonArray;
                    if (ids is null) throw new InvalidDataException($"{path}: post_processor template names unknown special token '{name}'.");
                    (seenSequence ? suffix : prefix).AddRange(ids.Select(i => i!.GetValue<int>()));
                }
                return (prefix.ToArray(), suffix.ToArray());
            }
            case "BertProcessing":
            case "RobertaProcessing":
                return ([p["cls"]![1]!.GetValue<int>()], [p["sep"]![1]!.GetValue<int>()]);
            case "Sequence":
                foreach (var inner in p["processors"] as JsonArray ?? [])
                {
                    var t = SpecialTemplate(inner, path);
                    if (t.Prefix.Length + t.Suffix.Length > 0) return t;
                }
                return ([], []);
            default:
                return ([], []); // ByteLevel and friends add no tokens
        }
    }

    private static bool StartsWith(int[] a, int[] p) => p.Length > 0 && a.Length >= p.Length && a.AsSpan(0, p.Length).SequenceEqual(p);
    private static bool EndsWith(int[] a, int[] s) => s.Length > 0 && a.Length >= s.Length && a.AsSpan(a.Length - s.Length).SequenceEqual(s);
}
