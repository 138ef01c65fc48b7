using Cai.Core.Dialogues;
using Cai.Modeling;
using Cai.Modeling.Tokenization;
using Cai.Training.Data;
using static TorchSharp.torch;

namespace Cai.Training.PreferenceModel;

/// <summary>
/// Serves a trained preference model: one score per full dialogue (higher is preferred), the reward
/// PPO optimises. Batched and deterministic: scores do not depend on call order or batch
/// composition beyond float rounding, and the same inputs give the same scores. Dialogues are
/// encoded exactly as in training (<see cref="DialogueEncoder"/>), so <paramref name="contextLength"/>
/// and <paramref name="appendEos"/> must match the <see cref="PmOptions"/> the model was trained with.
/// </summary>
public sealed class PreferenceModelScorer
{
    private readonly DialogueEncoder _encoder;
    private readonly int? _eosId;
    private readonly int _batchSize;
    private readonly int _contextLength;

    /// <param name="model">The trained preference model.</param>
    /// <param name="tokenizer">Its tokenizer.</param>
    /// <param name="batchSize">Dialogues per forward pass.</param>
    /// <param name="contextLength">Tokens kept per dialogue (its last ones), as in training.</param>
    /// <param name="appendEos">Whether dialogues end with EOS, as in training.</param>
    public PreferenceModelScorer(ScalarHeadModel model, ITokenizer tokenizer, int batchSize = 16, int contextLength = 256, bool appendEos = true)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (contextLength < 1 || contextLength > model.Config.MaxPositionEmbeddings)
            throw new ArgumentOutOfRangeException(nameof(_contextLength), contextLength, $"contextLength must be in [1, max_position_embeddings = {model.Config.MaxPositionEmbeddings}].");
        Model = model;
        _encoder = new DialogueEncoder(tokenizer, appendEos);
        _eosId = appendEos ? tokenizer.EosId : null;
        _batchSize = batchSize;
        _contextLength = contextLength;
    }

    public ScalarHeadModel Model { get; }

    /// <summary>Scores of dialogues that end with the assistant response being judged.</summary>
    public float[] Score(IReadOnlyList<Dialogue> dialogues, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dialogues);
        var sequences = new int[dialogues.Count][];
        for (int i = 0; i < dialogues.Count; i++)
        {
            var d = dialogues[i] ?? throw new ArgumentException($"dialogues[{i}] is null.", nameof(dialogues));
            if (d.LastTurn?.Role != Role.Assistant)
                throw new ArgumentException($"dialogues[{i}] must end with the assistant response to be scored.", nameof(dialogues));
            sequences[i] = _encoder.EncodeDialogue(d, _contextLength);
        }
        return Score(sequences, cancellationToken);
    }

    /// <summary>
    /// Scores of already-encoded dialogues (e.g. PPO's prompt + sampled response ids). When the PM
    /// reads its score at EOS (<c>appendEos</c>), a sequence not ending in EOS gets one, so a sampled
    /// response that stopped at EOS and one cut at the length limit are scored alike. Longer
    /// sequences keep their last <c>contextLength</c> ids.
    /// </summary>
    public float[] Score(IReadOnlyList<int[]> sequences, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        for (int i = 0; i < sequences.Count; i++)
            if (sequences[i] is not { Length: > 0 }) throw new ArgumentException($"sequences[{i}] is null or empty.", nameof(sequences));
        var scores = new float[sequences.Count];
        bool wasTraining = Model.training;
        Model.eval();
        try
        {
            using var inference = inference_mode();
            for (int start = 0; start < sequences.Count; start += _batchSize)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                var batch = sequences.Skip(start).Take(_batchSize).Select(EndWithEos)
                    .Select(s => s.Length <= _contextLength ? s : s[^_contextLength..]).ToList();
                var values = ScalarHeadBatch.Scores(Model, batch, _encoder.PadId, out _).cpu().data<float>().ToArray();
                values.CopyTo(scores, start);
            }
        }
        finally
        {
            if (wasTraining) Model.train();
        }
        return scores;
    }

    private int[] EndWithEos(int[] ids) => _eosId is int eos && ids[^1] != eos ? [.. ids, eos] : ids;
}
