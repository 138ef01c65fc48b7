namespace Cai.Modeling.Tokenization;

/// <summary>
/// Text to token ids and back, with the special tokens a model was trained with. The policy,
/// feedback and preference models all see text through one of these.
/// </summary>
public interface ITokenizer
{
    /// <summary>Token ids of <paramref name="text"/>; with <paramref name="addSpecialTokens"/> the
    /// tokenizer's post-processor adds its markers (e.g. BOS), without them the bare text tokens.</summary>
    int[] Encode(string text, bool addSpecialTokens = true);

    /// <summary>Text of <paramref name="ids"/>; special tokens (BOS, EOS, PAD) are left out.</summary>
    string Decode(IReadOnlyList<int> ids);

    /// <summary>Id of a token string in the vocabulary (in its stored form, e.g. "Ġhello" for byte-level BPE), or null.</summary>
    int? TokenToId(string token);

    /// <summary>Token string of an id, or null when the id is outside the vocabulary.</summary>
    string? IdToToken(int id);

    /// <summary>Largest id + 1, counting added tokens: the smallest vocab_size a model needs.</summary>
    int VocabSize { get; }

    int? BosId { get; }
    int? EosId { get; }
    int? PadId { get; }
}
