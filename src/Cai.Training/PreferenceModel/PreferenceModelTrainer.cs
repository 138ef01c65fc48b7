using Cai.Modeling;
using Cai.Modeling.Tokenization;
using Cai.Training.Data;
using static TorchSharp.torch;

namespace Cai.Training.PreferenceModel;

/// <summary>
/// Trains RL-CAI's preference model: a <see cref="ScalarHeadModel"/> (a trunk initialised from a
/// language-model checkpoint plus a fresh scalar head, see <see cref="ScalarHeadModel.FromCausalLM"/>)
/// scores both full dialogues of each comparison, and <see cref="PairwiseLoss"/> fits
/// sigmoid(r_A - r_B) to the soft label. The optimisation loop, checkpoints and exact resume come
/// from <see cref="Trainer{TItem, TModel}"/>; the final model is saved in the Hugging Face layout
/// (<c>LlamaForSequenceClassification</c>, one label) in the output folder.
/// </summary>
public sealed class PreferenceModelTrainer : Trainer<EncodedComparison, ScalarHeadModel>
{
    private readonly PmOptions _options;
    private readonly DialogueEncoder _encoder;
    private readonly string? _tokenizerDirectory;

    /// <param name="model">The preference model, float32 (updated in place).</param>
    /// <param name="tokenizer">Its tokenizer.</param>
    /// <param name="options">Hyperparameters.</param>
    /// <param name="tokenizerDirectory">Folder whose tokenizer files are copied into every saved model folder; null copies none.</param>
    public PreferenceModelTrainer(ScalarHeadModel model, ITokenizer tokenizer, PmOptions options, string? tokenizerDirectory = null)
        : base(model, options)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (tokenizer.VocabSize > model.Config.VocabSize)
            throw new ArgumentException($"The tokenizer's vocabulary ({tokenizer.VocabSize}) is larger than the model's vocab_size ({model.Config.VocabSize}).", nameof(tokenizer));
        if (options.ContextLength > model.Config.MaxPositionEmbeddings)
            throw new ArgumentException($"ContextLength {options.ContextLength} exceeds the model's max_position_embeddings {model.Config.MaxPositionEmbeddings}.", nameof(options));
        ModelFiles.RequireTokenizer(tokenizerDirectory, nameof(tokenizerDirectory));
        _options = options;
        _encoder = new DialogueEncoder(tokenizer, options.AppendEos);
        _tokenizerDirectory = tokenizerDirectory;
    }

    protected override string StageName => "preference-model";

    /// <summary>Trains on AI harmlessness comparisons mixed with helpfulness comparisons at <see cref="PmOptions.HelpfulMixRatio"/>.</summary>
    public TrainingResult Train(IReadOnlyList<PreferenceComparison> harmlessness, IReadOnlyList<PreferenceComparison> helpfulness,
        string outputDirectory, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Train(TrainingMix.Combine(harmlessness, helpfulness, _options.HelpfulMixRatio, _options.Seed), outputDirectory, progress, cancellationToken);

    /// <summary>
    /// Trains on <paramref name="comparisons"/>, saving <c>checkpoint-{step}</c> folders and finally
    /// the model under <paramref name="outputDirectory"/>; continues from the newest checkpoint of
    /// the same run when there is one.
    /// </summary>
    public TrainingResult Train(IReadOnlyList<PreferenceComparison> comparisons, string outputDirectory,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(comparisons);
        var encoded = new EncodedComparison[comparisons.Count];
        for (int i = 0; i < comparisons.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var c = comparisons[i] ?? throw new ArgumentException($"comparisons[{i}] is null.", nameof(comparisons));
            c.Validate($"comparisons[{i}]");
            encoded[i] = new EncodedComparison(_encoder.EncodeDialogue(c.DialogueA, _options.ContextLength),
                _encoder.EncodeDialogue(c.DialogueB, _options.ContextLength), (float)c.PreferA);
        }
        return Run(encoded, outputDirectory, progress, cancellationToken);
    }

    protected override ScalarHeadModel CreateComputeCopy() => new(Model.Config, Model.Device);

    protected override MicroBatchLoss ComputeLoss(ScalarHeadModel model, IReadOnlyList<EncodedComparison> batch)
    {
        // Both sides of every comparison go through the trunk as one batch of 2N dialogues.
        var sequences = batch.Select(c => c.A).Concat(batch.Select(c => c.B)).ToList();
        var scores = ScalarHeadBatch.Scores(model, sequences, _encoder.PadId, out long tokens);
        var rewardA = scores.narrow(0, 0, batch.Count);
        var rewardB = scores.narrow(0, batch.Count, batch.Count);
        var labels = tensor(batch.Select(c => c.PreferA).ToArray(), device: model.Device);
        var loss = PairwiseLoss.Compute(rewardA, rewardB, labels);

        int correct = 0, compared = 0;
        var a = rewardA.detach().cpu().data<float>().ToArray();
        var b = rewardB.detach().cpu().data<float>().ToArray();
        for (int i = 0; i < batch.Count; i++)
        {
            if (batch[i].PreferA == 0.5f) continue;
            compared++;
            if (a[i] > b[i] == batch[i].PreferA > 0.5f) correct++;
        }
        return new MicroBatchLoss(loss, tokens, correct, compared);
    }

    protected override void SaveModel(string directory)
    {
        Model.Save(directory);
        ModelFiles.CopyTokenizer(_tokenizerDirectory, directory);
    }

    protected override void WriteFingerprint(BinaryWriter writer, EncodedComparison item)
    {
        writer.Write(item.PreferA);
        writer.Write(item.A.Length);
        foreach (var id in item.A) writer.Write(id);
        writer.Write(item.B.Length);
        foreach (var id in item.B) writer.Write(id);
    }
}
