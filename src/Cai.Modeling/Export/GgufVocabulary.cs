using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Cai.Modeling.Export;

/// <summary>
/// A tokenizer in the form llama.cpp reads from GGUF metadata (<c>tokenizer.ggml.*</c>): the
/// tokenizer model ("gpt2" = byte-level BPE), the pre-tokenizer name, one string and type per id,
/// the BPE merges and the special ids. Built from a Hugging Face <c>tokenizer.json</c> so that
/// llama.cpp and Ollama split text into the same ids as this project (see <see cref="FromTokenizerJson"/>).
/// </summary>
public sealed record GgufVocabulary
{
    /// <summary>llama.cpp's token types (tokenizer.ggml.token_type).</summary>
    public const int Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5;

    /// <summary>The pre-tokenizer of Cai.World's WordLevel tokenizer (its <c>PreTokenizerPattern</c>).</summary>
    public const string WordLevelPattern = @"\n| ?[A-Za-z]+| ?[0-9]| ?[^A-Za-z0-9\s]|\s";

    // Split patterns of the byte-level BPE tokenizers llama.cpp knows by name (tokenizer.ggml.pre).
    private static readonly Dictionary<string, string> KnownSplitPatterns = new(StringComparer.Ordinal)
    {
        [@"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"] = "llama-bpe",
        [@"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"] = "qwen2",
    };

    public required string Model { get; init; }
    public required string PreTokenizer { get; init; }
    public required IReadOnlyList<string> Tokens { get; init; }
    public required IReadOnlyList<int> TokenTypes { get; init; }
    public required IReadOnlyList<string> Merges { get; init; }
    public int? BosId { get; init; }
    public int? EosId { get; init; }
    public int? PadId { get; init; }
    public int? UnknownId { get; init; }
    public bool AddBos { get; init; }
    /// <summary>How the HF tokenizer was mapped, for the export report.</summary>
    public required string Description { get; init; }

    /// <summary>
    /// Converts a HF <c>tokenizer.json</c>. Byte-level BPE (GPT-2 style, or the Llama-3 / Qwen2
    /// split patterns) is carried over as it is. The project's WordLevel tokenizer (Cai.World) is
    /// carried over as an equivalent byte-level BPE: its pieces (a letter run with at most one
    /// leading space, one digit, one other character, one whitespace character) never cross a split
    /// of GPT-2's pre-tokenizer, and merges learned from the vocabulary rebuild every in-vocabulary
    /// piece as exactly one token. The one difference: a piece that is not in the vocabulary becomes
    /// [UNK] here and smaller pieces in llama.cpp. Anything else is refused with the reason.
    /// </summary>
    /// <param name="modelVocabSize">Rows of the model's embedding; ids above the tokenizer's are padded as unused.</param>
    public static GgufVocabulary FromTokenizerJson(string path, int modelVocabSize, int? bosId, int? eosId, int? padId,
        CancellationToken cancellationToken = default)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Tokenizer file not found: {path}", path);
        JsonObject root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException($"{path}: expected a JSON object.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: invalid JSON: {e.Message}", e);
        }
        var model = root["model"] as JsonObject ?? throw new InvalidDataException($"{path}: 'model' is missing.");
        var type = model["type"]?.GetValue<string>();
        if (root["normalizer"] is JsonNode normalizer && normalizer.GetValueKind() != JsonValueKind.Null)
            throw new NotSupportedException($"{path}: a normalizer ({normalizer["type"]}) is not representable in llama.cpp's BPE tokenizer.");
        if (model["vocab"] is not JsonObject vocab)
            throw new NotSupportedException($"{path}: model type '{type}' has no {{token: id}} vocabulary; only byte-level BPE and the project's WordLevel tokenizer can be exported.");

        var tokens = new string?[modelVocabSize];
        var types = new int[modelVocabSize];
        void Put(string token, int id, int tokenType)
        {
            if (id < 0 || id >= modelVocabSize)
                throw new NotSupportedException($"{path}: token '{token}' has id {id}, outside the model's vocab_size {modelVocabSize}.");
            tokens[id] = token;
            types[id] = tokenType;
        }

        var specials = new Dictionary<string, int>(StringComparer.Ordinal);
        var added = new List<(string Content, int Id, bool Special)>();
        foreach (var a in root["added_tokens"] as JsonArray ?? [])
        {
            var content = a!["content"]!.GetValue<string>();
            var id = a["id"]!.GetValue<int>();
            var special = a["special"]?.GetValue<bool>() ?? false;
            added.Add((content, id, special));
            if (special) specials[content] = id;
        }

        string pre, description;
        List<string> merges;
        int? unk = model["unk_token"] is JsonValue unkName && unkName.GetValueKind() == JsonValueKind.String
            && vocab[unkName.GetValue<string>()] is JsonNode unkId ? unkId.GetValue<int>() : null;
        switch (type)
        {
            case "BPE":
            {
                pre = ByteLevelPreTokenizer(root["pre_tokenizer"], path);
                foreach (var (token, id) in vocab) Put(token, id!.GetValue<int>(), Normal);
                merges = (model["merges"] as JsonArray ?? []).Select(m => m switch
                {
                    JsonArray pair => $"{pair[0]!.GetValue<string>()} {pair[1]!.GetValue<string>()}",
                    _ => m!.GetValue<string>(),
                }).ToList();
                description = $"byte-level BPE -> gpt2 (pre-tokenizer {pre}), {merges.Count} merges";
                break;
            }
            case "WordLevel":
            {
                var pattern = root["pre_tokenizer"] is JsonObject p && p["type"]?.GetValue<string>() == "Split"
                    ? p["pattern"]?["Regex"]?.GetValue<string>() : null;
                if (pattern != WordLevelPattern)
                    throw new NotSupportedException($"{path}: a WordLevel tokenizer is exported only with the project's pre-tokenizer (Split on {WordLevelPattern}); this one splits on {pattern ?? "something else"}, which llama.cpp has no equivalent for.");
                var piece = new Regex($"^(?:{WordLevelPattern})$", RegexOptions.CultureInvariant);
                var words = new List<string>();
                foreach (var (token, idNode) in vocab)
                {
                    var id = idNode!.GetValue<int>();
                    if (specials.ContainsKey(token)) continue;
                    if (!piece.IsMatch(token))
                        throw new NotSupportedException($"{path}: vocabulary entry '{token}' (id {id}) is not one piece of the pre-tokenizer, so no BPE can reproduce it.");
                    var byteLevel = ByteLevel.Encode(token);
                    Put(byteLevel, id, Normal);
                    words.Add(byteLevel);
                }
                merges = ByteLevel.LearnMerges(words, cancellationToken);
                pre = "gpt-2";
                description = $"WordLevel -> gpt2 byte-level BPE with {merges.Count} merges that rebuild each of the {words.Count} words (out-of-vocabulary words give sub-pieces instead of [UNK])";
                break;
            }
            default:
                throw new NotSupportedException($"{path}: tokenizer model '{type}' is not exported (supported: byte-level BPE, the project's WordLevel).");
        }

        foreach (var (content, id, special) in added)
            Put(type == "WordLevel" && !special ? ByteLevel.Encode(content) : content, id, special ? Control : UserDefined);
        if (unk is int unknown) types[unknown] = Unknown;
        for (int i = 0; i < tokens.Length; i++)
        {
            if (tokens[i] is not null) continue;
            // Embedding rows the tokenizer does not use (vocab padded for speed): names nothing can produce.
            tokens[i] = $"[PAD{i}]";
            types[i] = Unused;
        }

        return new GgufVocabulary
        {
            Model = "gpt2",
            PreTokenizer = pre,
            Tokens = tokens!,
            TokenTypes = types,
            Merges = merges,
            BosId = bosId ?? Special(specials, "<s>", "<|begin_of_text|>", "[BOS]", "<bos>"),
            EosId = eosId ?? Special(specials, "</s>", "<|endoftext|>", "<|end_of_text|>", "[EOS]", "<eos>"),
            PadId = padId ?? Special(specials, "<pad>", "<|pad|>", "[PAD]"),
            UnknownId = unk,
            AddBos = TemplateStartsWithSpecial(root["post_processor"]),
            Description = description,
        };
    }

    /// <summary>Writes the <c>tokenizer.ggml.*</c> keys.</summary>
    public void WriteTo(GgufWriter writer)
    {
        writer.AddString("tokenizer.ggml.model", Model);
        writer.AddString("tokenizer.ggml.pre", PreTokenizer);
        writer.AddStringArray("tokenizer.ggml.tokens", Tokens);
        writer.AddInt32Array("tokenizer.ggml.token_type", TokenTypes);
        writer.AddStringArray("tokenizer.ggml.merges", Merges);
        if (BosId is int bos) writer.AddUInt32("tokenizer.ggml.bos_token_id", (uint)bos);
        if (EosId is int eos) writer.AddUInt32("tokenizer.ggml.eos_token_id", (uint)eos);
        if (PadId is int pad) writer.AddUInt32("tokenizer.ggml.padding_token_id", (uint)pad);
        if (UnknownId is int unk) writer.AddUInt32("tokenizer.ggml.unknown_token_id", (uint)unk);
        writer.AddBool("tokenizer.ggml.add_bos_token", AddBos);
        writer.AddBool("tokenizer.ggml.add_eos_token", false);
    }

    private static int? Special(Dictionary<string, int> specials, params string[] names)
    {
        foreach (var n in names)
            if (specials.TryGetValue(n, out var id)) return id;
        return null;
    }

    private static bool TemplateStartsWithSpecial(JsonNode? post) => post switch
    {
        JsonObject p when p["type"]?.GetValue<string>() == "TemplateProcessing" =>
            (p["single"] as JsonArray)?.FirstOrDefault()?["SpecialToken"] is not null,
        JsonObject p when p["type"]?.GetValue<string>() == "Sequence" =>
            (p["processors"] as JsonArray ?? []).Any(TemplateStartsWithSpecial),
        _ => false,
    };

    /// <summary>The llama.cpp pre-tokenizer name equivalent to a byte-level BPE's HF pre-tokenizer.</summary>
    private static string ByteLevelPreTokenizer(JsonNode? node, string path)
    {
        if (node is JsonObject o && o["type"]?.GetValue<string>() == "ByteLevel")
        {
            if (o["use_regex"]?.GetValue<bool>() == false)
                throw new NotSupportedException($"{path}: ByteLevel pre-tokenizer without its regex has no llama.cpp equivalent.");
            if (o["add_prefix_space"]?.GetValue<bool>() == true)
                throw new NotSupportedException($"{path}: ByteLevel add_prefix_space=true has no llama.cpp BPE equivalent.");
            return "gpt-2";
        }
        if (node is JsonObject s && s["type"]?.GetValue<string>() == "Sequence" && s["pretokenizers"] is JsonArray parts
            && parts.Count == 2 && parts[0]?["type"]?.GetValue<string>() == "Split" && parts[1]?["type"]?.GetValue<string>() == "ByteLevel"
            && parts[1]?["use_regex"]?.GetValue<bool>() == false)
        {
            var regex = parts[0]!["pattern"]?["Regex"]?.GetValue<string>();
            if (regex is not null && KnownSplitPatterns.TryGetValue(regex, out var name)) return name;
            throw new NotSupportedException($"{path}: split pattern {regex} is not one llama.cpp knows by name (known: GPT-2, Llama-3, Qwen2).");
        }
        throw new NotSupportedException($"{path}: a BPE tokenizer is exported only when it is byte-level (ByteLevel pre-tokenizer, or Split + ByteLevel); this one has {node?.ToJsonString() ?? "none"}.");
    }
}

/// <summary>GPT-2's byte-level alphabet (each byte shown as a printable character) and BPE merge learning.</summary>
public static class ByteLevel
{
    private static readonly char[] ByteToChar = BuildAlphabet();

    // Printable bytes stand for themselves; the others (control characters, space, some Latin-1)
    // are shifted to 256 + n in order, so every byte has a visible, unique character.
    private static char[] BuildAlphabet()
    {
        var map = new char[256];
        int next = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = printable ? (char)b : (char)(256 + next++);
        }
        return map;
    }

    /// <summary>The printable character that stands for byte <paramref name="b"/>.</summary>
    public static char CharOf(byte b) => ByteToChar[b];

    /// <summary>The byte-level form of <paramref name="text"/> (its UTF-8 bytes as alphabet characters).</summary>
    public static string Encode(string text)
    {
        var sb = new StringBuilder();
        foreach (var b in Encoding.UTF8.GetBytes(text)) sb.Append(ByteToChar[b]);
        return sb.ToString();
    }

    /// <summary>
    /// BPE merges under which each of <paramref name="words"/> (byte-level strings) encodes to itself
    /// as one symbol. Learned as BPE is trained (most frequent adjacent pair first, applied to every
    /// word left to right); encoding applies merges in the same order, so it retraces training.
    /// Deterministic: ties go to the pair seen first.
    /// </summary>
    public static List<string> LearnMerges(IEnumerable<string> words, CancellationToken cancellationToken = default)
    {
        var symbols = new List<string>();
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        int Id(string s)
        {
            if (!ids.TryGetValue(s, out var id)) { id = symbols.Count; ids[s] = id; symbols.Add(s); }
            return id;
        }
        // One symbol per byte-level character (each character is one byte).
        var active = words.Distinct(StringComparer.Ordinal).Select(w => w.Select(c => Id(c.ToString())).ToList()).Where(w => w.Count > 1).ToList();
        var merges = new List<string>();
        var counts = new Dictionary<long, int>();
        var firstSeen = new Dictionary<long, int>();
        while (active.Count > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            counts.Clear();
            firstSeen.Clear();
            int order = 0;
            foreach (var w in active)
                for (int i = 0; i + 1 < w.Count; i++)
                {
                    long key = ((long)w[i] << 32) | (uint)w[i + 1];
                    counts[key] = counts.GetValueOrDefault(key) + 1;
                    firstSeen.TryAdd(key, order++);
                }
            long best = 0;
            int bestCount = 0, bestOrder = int.MaxValue;
            foreach (var (key, count) in counts)
            {
                int seen = firstSeen[key];
                if (count > bestCount || (count == bestCount && seen < bestOrder)) (best, bestCount, bestOrder) = (key, count, seen);
            }
            int left = (int)(best >> 32), right = (int)(best & 0xFFFFFFFF);
            int merged = Id(symbols[left] + symbols[right]);
            merges.Add($"{symbols[left]} {symbols[right]}");
            foreach (var w in active)
            {
                for (int i = 0; i + 1 < w.Count; i++)
                    if (w[i] == left && w[i + 1] == right)
                    {
                        w[i] = merged;
                        w.RemoveAt(i + 1);
                    }
            }
            active.RemoveAll(w => w.Count == 1);
        }
        return merges;
    }
}
