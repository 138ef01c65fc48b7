using Cai.Modeling;
using Cai.Modeling.Tokenization;
using Cai.Training.Data;

namespace Cai.Training.Sft;

/// <summary>
/// SL-CAI's supervised fine-tuning: the policy learns to give the final revisions of its own
/// critiqued answers (mixed with helpful answers) as its responses. The loss is next-token
/// cross-entropy on response tokens only (<see cref="ResponseTokenLoss"/>); the optimisation loop,
/// checkpoints and exact resume come from <see cref="Trainer{TItem, TModel}"/>. The final model is
/// saved in the Hugging Face layout in the output folder.
/// </summary>
public sealed class SftTrainer : Trainer<SftSequence, LlamaForCausalLM>
{
    private readonly SftOptions _options;
    private readonly DialogueEncoder _encoder;
    private readonly string? _tokenizerDirectory;

    /// <param name="model">The policy to fine-tune, float32 (its weights are updated in place).</param>
    /// <param name="tokenizer">The policy's tokenizer.</param>
    /// <param name="options">Hyperparameters.</param>
    /// <param name="tokenizerDirectory">Folder whose tokenizer files are copied into every saved model
    /// folder (normally the checkpoint the policy was loaded from); null copies none.</param>
    public SftTrainer(LlamaForCausalLM model, ITokenizer tokenizer, SftOptions options, string? tokenizerDirectory = null)
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

    protected override string StageName => "sft";

    /// <summary>The example as the trainer sees it: token ids and where the response starts.</summary>
    public SftSequence Encode(SftExample example)
    {
        ArgumentNullException.ThrowIfNull(example);
        example.Validate(nameof(example));
        var (ids, promptLength) = _encoder.EncodePromptResponse(example.Prompt, example.Response, _options.ContextLength);
        return new SftSequence(ids, promptLength);
    }

    /// <summary>
    /// Fine-tunes on the revision examples mixed with helpful examples at
    /// <see cref="SftOptions.HelpfulMixRatio"/> (drawn with the options' seed).
    /// </summary>
    public TrainingResult Train(IReadOnlyList<SftExample> revisions, IReadOnlyList<SftExample> helpful, string outputDirectory,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Train(TrainingMix.Combine(revisions, helpful, _options.HelpfulMixRatio, _options.Seed), outputDirectory, progress, cancellationToken);

    /// <summary>
    /// Fine-tunes on <paramref name="examples"/> for <see cref="TrainingOptions.Epochs"/> epochs,
    /// saving <c>checkpoint-{step}</c> folders and finally the model under <paramref name="outputDirectory"/>.
    /// When that folder holds a checkpoint of the same run, training continues from the newest one.
    /// </summary>
    public TrainingResult Train(IReadOnlyList<SftExample> examples, string outputDirectory,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(examples);
        var encoded = new SftSequence[examples.Count];
        for (int i = 0; i < examples.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (examples[i] is null) throw new ArgumentException($"examples[{i}] is null.", nameof(examples));
            examples[i].Validate($"examples[{i}]");
            var (ids, promptLength) = _encoder.EncodePromptResponse(examples[i].Prompt, examples[i].Response, _options.ContextLength);
            encoded[i] = new SftSequence(ids, promptLength);
        }
        return Run(encoded, outputDirectory, progress, cancellationToken);
    }

    protected override LlamaForCausalLM CreateComputeCopy() => new(Model.Config, Model.Device);

    protected override MicroBatchLoss ComputeLoss(LlamaForCausalLM model, IReadOnlyList<SftSequence> batch)
    {
        var (ids, labels, tokens) = ResponseTokenLoss.Collate(batch, _encoder.PadId, model.Device);
        var logits = model.Forward(ids).Logits;
        return new MicroBatchLoss(ResponseTokenLoss.Compute(logits, labels), tokens);
    }

    protected override void SaveModel(string directory)
    {
        Checkpoint.Save(Model, directory);
        ModelFiles.CopyTokenizer(_tokenizerDirectory, directory);
    }

    protected override void WriteFingerprint(BinaryWriter writer, SftSequence item)
    {
        writer.Write(item.PromptLength);
        writer.Write(item.InputIds.Length);
        foreach (var id in item.InputIds) writer.Write(id);
    }
}
