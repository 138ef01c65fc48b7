using Cai.Modeling;
using static TorchSharp.torch;

namespace Cai.Training.Ppo;

/// <summary>
/// The frozen reference policy: the SL-CAI model as it was before RL. The per-token KL penalty is
/// measured against it. Its parameters never receive gradients.
/// </summary>
public sealed class ReferenceModel
{
    /// <param name="model">The SL-CAI language model; it is frozen (no gradients) and put in eval mode.</param>
    public ReferenceModel(LlamaForCausalLM model)
    {
        ArgumentNullException.ThrowIfNull(model);
        foreach (var p in model.parameters()) p.requires_grad_(false);
        model.eval();
        Model = model;
    }

    public LlamaForCausalLM Model { get; }

    /// <summary>A frozen copy of the policy's current weights: the usual reference when RL starts from the policy just loaded.</summary>
    public static ReferenceModel CopyOf(PolicyModel policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        return new ReferenceModel(policy.Model.Clone());
    }

    /// <summary>(B, R) log p_ref of the response tokens; see <see cref="PolicyModel.Evaluate"/> for the layout.</summary>
    public Tensor LogProbs(Tensor sequences, Tensor attentionMask, int responseLength)
    {
        using var noGrad = no_grad();
        return PolicyModel.Score(Model, sequences, attentionMask, responseLength, withEntropy: false).LogProbs;
    }
}
