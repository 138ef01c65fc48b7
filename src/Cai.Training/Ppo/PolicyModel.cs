using Cai.Modeling;
using Cai.Modeling.Generation;
using Cai.Modeling.Scoring;
using Cai.Modeling.Tokenization;
using static TorchSharp.torch;

namespace Cai.Training.Ppo;

/// <summary>Log-probabilities of the response tokens (the actions) and, when asked, the entropy at each.</summary>
/// <param name="LogProbs">(B, R) log p(response token | everything before it).</param>
/// <param name="Entropy">(B, R) entropy of the next-token distribution at each response position, or null.</param>
public sealed record ActionLogProbs(Tensor LogProbs, Tensor? Entropy);

/// <summary>
/// The RL-CAI policy (PPO's actor): the language model being optimised, initialised from the SL-CAI
/// model. It samples the rollouts through the model core's batched <see cref="Sampler"/> (the code
/// the generation service runs) and scores its own response tokens for the PPO ratio.
/// </summary>
public sealed class PolicyModel
{
    /// <param name="model">The SL-CAI language model, float32; PPO updates its weights in place.</param>
    /// <param name="tokenizer">Gives the sampler the tokenizer's EOS (the model config's eos_token_id is used either way); may be null.</param>
    public PolicyModel(LlamaForCausalLM model, ITokenizer? tokenizer = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.parameters().Any(p => p.dtype != ScalarType.Float32))
            throw new ArgumentException("The policy's parameters must be float32 (PPO updates them directly).", nameof(model));
        Model = model;
        Sampler = new Sampler(model, tokenizer);
    }

    public LlamaForCausalLM Model { get; }

    /// <summary>The batched sampler that draws rollouts from <see cref="Model"/>.</summary>
    public Sampler Sampler { get; }

    /// <summary>Scores the response part of left-padded prompt + right-padded response sequences (differentiable).</summary>
    /// <param name="sequences">(B, P + R) token ids.</param>
    /// <param name="attentionMask">(B, P + R) 1 on real tokens.</param>
    /// <param name="responseLength">R, the response columns at the end of each row.</param>
    public ActionLogProbs Evaluate(Tensor sequences, Tensor attentionMask, int responseLength, bool withEntropy) =>
        Score(Model, sequences, attentionMask, responseLength, withEntropy);

    internal static ActionLogProbs Score(LlamaForCausalLM model, Tensor sequences, Tensor attentionMask, int responseLength, bool withEntropy)
    {
        long total = sequences.shape[1];
        if (responseLength < 1 || responseLength >= total)
            throw new ArgumentOutOfRangeException(nameof(responseLength), responseLength, $"Must be in [1, {total - 1}] for sequences of {total} columns.");
        // Position P - 1 + j predicts response token j: keep the last R + 1 positions' logits and drop the final one.
        var logits = model.Forward(sequences, attentionMask, logitsToKeep: responseLength + 1).Logits.narrow(1, 0, responseLength);
        var targets = sequences.narrow(1, total - responseLength, responseLength);
        return new ActionLogProbs(Scorer.TokenLogProbs(logits, targets), withEntropy ? EntropyBonus.PerToken(logits) : null);
    }
}
