using Cai.Core.Dialogues;
using Cai.Modeling.Tokenization;

namespace Cai.Training.Data;

/// <summary>
/// Turns dialogues in the paper's "\n\nHuman: ...\n\nAssistant: ..." format into token ids the same
/// way for training and for scoring: the prompt is encoded with the tokenizer's special tokens (e.g.
/// BOS), the assistant's response without them and, when asked, closed with EOS so the model learns
/// where an answer ends and a preference model reads its score at a fixed end-of-dialogue token.
/// </summary>
public sealed class DialogueEncoder
{
    private readonly ITokenizer _tokenizer;
    private readonly bool _appendEos;

    /// <param name="appendEos">Close responses and dialogues with the tokenizer's EOS (ignored when it has none).</param>
    public DialogueEncoder(ITokenizer tokenizer, bool appendEos = true)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        _tokenizer = tokenizer;
        _appendEos = appendEos && tokenizer.EosId is not null;
    }

    /// <summary>Id used to pad batches: the tokenizer's PAD, else EOS, else 0 (its value never matters:
    /// padding sits after every real token and causal attention never looks forward).</summary>
    public int PadId => _tokenizer.PadId ?? _tokenizer.EosId ?? 0;

    /// <summary>
    /// A (prompt, response) pair for supervised fine-tuning: the ids of the open prompt
    /// ("...\n\nAssistant:") followed by those of " response" (and EOS), and how many leading ids
    /// are prompt. Too long a pair is cut to <paramref name="contextLength"/>: the prompt keeps its
    /// last tokens (at least half the context when it is that long), the response its first tokens.
    /// </summary>
    public (int[] Ids, int PromptLength) EncodePromptResponse(Dialogue prompt, string response, int contextLength)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(response);
        ArgumentOutOfRangeException.ThrowIfLessThan(contextLength, 2);
        var promptIds = _tokenizer.Encode(prompt.RenderPrompt());
        var text = response.Trim();
        var responseIds = text.Length == 0 ? [] : _tokenizer.Encode(" " + text, addSpecialTokens: false);
        if (_appendEos) responseIds = [.. responseIds, _tokenizer.EosId!.Value];
        if (promptIds.Length == 0) throw new ArgumentException("The prompt encodes to no tokens.", nameof(prompt));
        if (responseIds.Length == 0) throw new ArgumentException("The response encodes to no tokens and there is no EOS to learn.", nameof(response));

        int keepPrompt = Math.Min(promptIds.Length, Math.Max(contextLength / 2, contextLength - responseIds.Length));
        int keepResponse = Math.Min(responseIds.Length, contextLength - keepPrompt);
        var ids = new int[keepPrompt + keepResponse];
        Array.Copy(promptIds, promptIds.Length - keepPrompt, ids, 0, keepPrompt);
        Array.Copy(responseIds, 0, ids, keepPrompt, keepResponse);
        return (ids, keepPrompt);
    }

    /// <summary>
    /// A whole dialogue (ending with the assistant's response) for a preference model. Too long a
    /// dialogue keeps its last <paramref name="contextLength"/> tokens: the score is read at the end,
    /// and the end holds the response being judged.
    /// </summary>
    public int[] EncodeDialogue(Dialogue dialogue, int contextLength)
    {
        ArgumentNullException.ThrowIfNull(dialogue);
        ArgumentOutOfRangeException.ThrowIfLessThan(contextLength, 1);
        var ids = _tokenizer.Encode(dialogue.Render());
        if (_appendEos) ids = [.. ids, _tokenizer.EosId!.Value];
        if (ids.Length == 0) throw new ArgumentException("The dialogue encodes to no tokens.", nameof(dialogue));
        return ids.Length <= contextLength ? ids : ids[^contextLength..];
    }
}
