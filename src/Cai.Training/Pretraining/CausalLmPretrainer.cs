using Cai.Core.Generation;
using Cai.Modeling;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Cai.Training.Pretraining;

/// <summary>
/// Pretrains a language model from scratch on tokenised documents with the next-token objective: the
/// "pretrained LM" of the paper, here the small helpful-only assistant of the embedded default world.
/// Documents are shuffled with the seed, each written as [BOS] document [EOS], concatenated and cut
/// into sequences of <see cref="TrainingOptions.ContextLength"/> + 1 tokens (packing: no padding, so
/// every position is a prediction). The optimisation loop (AdamW with warmup and cosine decay,
/// clipping, bf16 compute with float32 master weights, one dispose scope per step, progress,
/// cancellation, resumable checkpoints) is <see cref="Trainer{TItem, TModel}"/>'s.
/// </summary>
public sealed class CausalLmPretrainer : Trainer<int[], LlamaForCausalLM>
{
    /// <summary>The <see cref="DeterministicRandom.ForItem"/> stream of the document shuffle.</summary>
    public const string DocumentOrderStream = "pretraining-document-order";

    private readonly PretrainingOptions _options;

    /// <param name="model">A freshly initialised (or partly trained) float32 model; trained in place.</param>
    public CausalLmPretrainer(LlamaForCausalLM model, PretrainingOptions options) : base(model, options)
    {
        if (options.ContextLength > model.Config.MaxPositionEmbeddings)
            throw new ArgumentException($"ContextLength {options.ContextLength} exceeds the model's max_position_embeddings {model.Config.MaxPositionEmbeddings}.", nameof(options));
        _options = options;
    }

    protected override string StageName => "pretraining";

    /// <summary>
    /// Packs the documents into training sequences of <paramref name="contextLength"/> + 1 tokens
    /// (inputs are the first <paramref name="contextLength"/>, targets the last). Consecutive sequences
    /// share one token, so every token of the stream is predicted once; the tail shorter than a whole
    /// sequence is dropped.
    /// </summary>
    /// <param name="documents">Token ids of each document, without special tokens.</param>
    public static List<int[]> Pack(IReadOnlyList<int[]> documents, int bosId, int eosId, int contextLength, ulong seed,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(documents);
        ArgumentOutOfRangeException.ThrowIfLessThan(contextLength, 1);
        if (documents.Count == 0) throw new ArgumentException("There are no documents to pretrain on.", nameof(documents));
        var order = DeterministicRandom.ForItem(seed, DocumentOrderStream, "documents").SampleWithoutReplacement(documents.Count, documents.Count);
        var stream = new List<int>(documents.Sum(d => d.Length + 2));
        foreach (var i in order)
        {
            cancellationToken.ThrowIfCancellationRequested();
            stream.Add(bosId);
            stream.AddRange(documents[i] ?? throw new ArgumentException($"documents[{i}] is null.", nameof(documents)));
            stream.Add(eosId);
        }
        var sequences = new List<int[]>(stream.Count / contextLength);
        for (int start = 0; start + contextLength + 1 <= stream.Count; start += contextLength)
            sequences.Add(stream.GetRange(start, contextLength + 1).ToArray());
        if (sequences.Count == 0)
            throw new ArgumentException($"The documents hold {stream.Count} tokens with BOS/EOS, fewer than one sequence of {contextLength + 1}.", nameof(documents));
        return sequences;
    }

    /// <summary>Pretrains on <paramref name="documents"/> and saves the model (float32, Hugging Face
    /// layout) with <c>trainer_state.json</c> into <paramref name="outputDirectory"/>; a run interrupted
    /// there continues from its newest checkpoint.</summary>
    /// <param name="documents">Token ids of each document, without special tokens.</param>
    public TrainingResult Train(IReadOnlyList<int[]> documents, int bosId, int eosId, string outputDirectory,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        int vocab = Model.Config.VocabSize;
        if (bosId < 0 || bosId >= vocab) throw new ArgumentOutOfRangeException(nameof(bosId), bosId, $"BOS id is outside the model's vocabulary ({vocab}).");
        if (eosId < 0 || eosId >= vocab) throw new ArgumentOutOfRangeException(nameof(eosId), eosId, $"EOS id is outside the model's vocabulary ({vocab}).");
        for (int i = 0; i < documents.Count; i++)
            if (documents[i] is { } d && d.Any(t => t < 0 || t >= vocab))
                throw new ArgumentException($"documents[{i}] has a token id outside [0, {vocab}).", nameof(documents));
        var sequences = Pack(documents, bosId, eosId, _options.ContextLength, _options.Seed, cancellationToken);
        return Run(Shorten(sequences), outputDirectory, progress, cancellationToken);
    }

    /// <summary>Optimizer steps a run over <paramref name="sequenceCount"/> packed sequences takes.</summary>
    public static int StepsFor(int sequenceCount, PretrainingOptions options)
    {
        int perStep = options.BatchSize * options.GradientAccumulationSteps;
        int kept = Kept(sequenceCount, options);
        return (kept + perStep - 1) / perStep * options.Epochs;
    }

    private List<int[]> Shorten(List<int[]> sequences)
    {
        int kept = Kept(sequences.Count, _options);
        return kept == sequences.Count ? sequences : sequences.GetRange(0, kept);
    }

    private static int Kept(int sequenceCount, PretrainingOptions options)
    {
        if (options.MaxSteps is not int maxSteps) return sequenceCount;
        int perEpoch = (maxSteps + options.Epochs - 1) / options.Epochs;
        return (int)Math.Min(sequenceCount, (long)perEpoch * options.BatchSize * options.GradientAccumulationSteps);
    }

    protected override LlamaForCausalLM CreateComputeCopy() => new(Model.Config, Model.Device);

    protected override MicroBatchLoss ComputeLoss(LlamaForCausalLM model, IReadOnlyList<int[]> batch)
    {
        int length = batch[0].Length;
        var flat = new long[batch.Count * length];
        for (int b = 0; b < batch.Count; b++)
            for (int j = 0; j < length; j++) flat[b * length + j] = batch[b][j];
        var ids = tensor(flat, [batch.Count, length], device: model.Device);
        var inputs = ids.narrow(1, 0, length - 1);
        var targets = ids.narrow(1, 1, length - 1);
        var logits = model.Forward(inputs).Logits;
        // The loss in float32 even under bf16 compute: a softmax over the vocabulary needs the range.
        var loss = F.cross_entropy(logits.reshape(-1, logits.shape[^1]).to(ScalarType.Float32), targets.reshape(-1));
        return new MicroBatchLoss(loss, (long)batch.Count * (length - 1));
    }

    protected override void SaveModel(string directory) => Checkpoint.Save(Model, directory);

    protected override void WriteFingerprint(BinaryWriter writer, int[] item)
    {
        writer.Write(item.Length);
        foreach (var id in item) writer.Write(id);
    }
}
