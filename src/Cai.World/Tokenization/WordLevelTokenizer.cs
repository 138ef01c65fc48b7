using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Cai.World.Tokenization;

/// <summary>A closed word-level tokenizer for the synthetic world: a word keeps the space before it
/// (" word"), every digit and newline is its own token, and punctuation is split off, so decoding is plain
/// concatenation. Saved as a Hugging Face <c>tokenizer.json</c> (WordLevel model, Split pre-tokenizer,
/// Fuse decoder) that HF tokenizers loads; this class is the fast in-process encoder of the same file.</summary>
public sealed partial class WordLevelTokenizer
{
    public const string Pad = "[PAD]";
    public const string Unk = "[UNK]";
    public const string Bos = "[BOS]";
    public const string Eos = "[EOS]";
    private static readonly string[] Specials = [Pad, Unk, Bos, Eos];

    /// <summary>The pre-tokenizer pattern, shared by this encoder and the saved tokenizer.json: a newline;
    /// a run of letters with at most one leading space; one digit with at most one leading space; one other
    /// character with at most one leading space; any remaining whitespace character.</summary>
    public const string PreTokenizerPattern = @"\n| ?[A-Za-z]+| ?[0-9]| ?[^A-Za-z0-9\s]|\s";

    [GeneratedRegex(PreTokenizerPattern, RegexOptions.CultureInvariant)]
    private static partial Regex Pieces();

    private readonly Dictionary<string, int> _ids;
    private readonly string[] _tokens;

    private WordLevelTokenizer(IReadOnlyList<string> tokens)
    {
        _tokens = [.. tokens];
        _ids = new Dictionary<string, int>(_tokens.Length, StringComparer.Ordinal);
        for (var i = 0; i < _tokens.Length; i++)
            if (!_ids.TryAdd(_tokens[i], i))
                throw new ArgumentException($"token '{_tokens[i]}' appears twice in the vocabulary", nameof(tokens));
        foreach (var special in Specials)
            if (!_ids.ContainsKey(special))
                throw new ArgumentException($"the vocabulary lacks the special token {special}", nameof(tokens));
    }

    public int VocabularySize => _tokens.Length;
    public int PadId => _ids[Pad];
    public int UnkId => _ids[Unk];
    public int BosId => _ids[Bos];
    public int EosId => _ids[Eos];
    public IReadOnlyList<string> Tokens => _tokens;

    /// <summary>Builds the vocabulary of every piece in <paramref name="texts"/> (plus all single digits, with
    /// and without a leading space, and the newline), most frequent first; ties in ordinal order.</summary>
    public static WordLevelTokenizer Train(IEnumerable<string> texts, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var text in texts)
        {
            cancellationToken.ThrowIfCancellationRequested();
            foreach (var piece in Split(text))
                counts[piece] = counts.GetValueOrDefault(piece) + 1;
        }
        foreach (var always in Enumerable.Range(0, 10).SelectMany(d => new[] { $"{d}", $" {d}" }).Append("\n"))
            counts.TryAdd(always, 0);
        foreach (var special in Specials) counts.Remove(special);
        var ordered = counts.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key);
        return new WordLevelTokenizer([.. Specials, .. ordered]);
    }

    /// <summary>The pre-tokenized pieces of <paramref name="text"/>; they concatenate back to the text.</summary>
    public static IEnumerable<string> Split(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        foreach (Match m in Pieces().Matches(text)) yield return m.Value;
    }

    public int[] Encode(string text)
    {
        var ids = new List<int>(text.Length / 4 + 1);
        foreach (Match m in Pieces().Matches(text))
            ids.Add(_ids.TryGetValue(m.Value, out var id) ? id : UnkId);
        return [.. ids];
    }

    /// <summary>Decodes by concatenation; padding, BOS and EOS are dropped, unknown pieces read "[UNK]".</summary>
    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var sb = new System.Text.StringBuilder();
        foreach (var id in ids)
        {
            if ((uint)id >= (uint)_tokens.Length)
                throw new ArgumentOutOfRangeException(nameof(ids), id, $"token id outside the vocabulary of {_tokens.Length}");
            if (id == PadId || id == BosId || id == EosId) continue;
            sb.Append(_tokens[id]);
        }
        return sb.ToString();
    }

    public bool TryGetId(string token, out int id) => _ids.TryGetValue(token, out id);

    /// <summary>The Hugging Face tokenizer.json of this vocabulary.</summary>
    public string ToHuggingFaceJson()
    {
        var vocab = new JsonObject();
        for (var i = 0; i < _tokens.Length; i++) vocab[_tokens[i]] = i;
        var added = new JsonArray();
        foreach (var special in Specials)
            added.Add(new JsonObject
            {
                ["id"] = _ids[special],
                ["content"] = special,
                ["single_word"] = false,
                ["lstrip"] = false,
                ["rstrip"] = false,
                ["normalized"] = false,
                ["special"] = true,
            });
        var root = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = added,
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject
            {
                ["type"] = "Split",
                ["pattern"] = new JsonObject { ["Regex"] = PreTokenizerPattern },
                ["behavior"] = "Isolated",
                ["invert"] = false,
            },
            ["post_processor"] = null,
            ["decoder"] = new JsonObject { ["type"] = "Fuse" },
            ["model"] = new JsonObject { ["type"] = "WordLevel", ["vocab"] = vocab, ["unk_token"] = Unk },
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        File.WriteAllText(path, ToHuggingFaceJson());
    }

    /// <summary>Loads a tokenizer.json written by <see cref="Save"/> (a WordLevel model whose pre-tokenizer is
    /// <see cref="PreTokenizerPattern"/>).</summary>
    public static WordLevelTokenizer Load(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        JsonNode root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path)) ?? throw new InvalidDataException($"{path}: empty tokenizer file");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid JSON: {e.Message}", e);
        }
        if (root["model"]?["type"]?.GetValue<string>() != "WordLevel")
            throw new InvalidDataException($"{path}: field 'model.type' must be \"WordLevel\"");
        if (root["pre_tokenizer"]?["pattern"]?["Regex"]?.GetValue<string>() != PreTokenizerPattern)
            throw new InvalidDataException($"{path}: field 'pre_tokenizer.pattern.Regex' is not this tokenizer's pattern");
        var vocab = root["model"]!["vocab"]?.AsObject() ?? throw new InvalidDataException($"{path}: field 'model.vocab' is missing");
        var tokens = new string[vocab.Count];
        foreach (var (token, idNode) in vocab)
        {
            var id = idNode?.GetValue<int>() ?? -1;
            if (id < 0 || id >= tokens.Length || tokens[id] is not null)
                throw new InvalidDataException($"{path}: field 'model.vocab' has a bad or repeated id for '{token}'");
            tokens[id] = token;
        }
        return new WordLevelTokenizer(tokens);
    }
}
