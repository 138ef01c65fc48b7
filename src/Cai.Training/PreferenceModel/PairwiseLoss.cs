using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Cai.Training.PreferenceModel;

/// <summary>
/// The preference model's loss (Bradley-Terry on soft labels): the PM's probability that A is
/// better is sigmoid(r_A - r_B), and the loss is its binary cross-entropy against the label
/// p = p(A preferred):  -[p log sigmoid(d) + (1 - p) log(1 - sigmoid(d))],  d = r_A - r_B.
/// Its gradient with respect to d is sigmoid(d) - p, so a soft label of 0.6 pulls the PM towards a
/// margin of logit(0.6) rather than towards certainty.
/// </summary>
public static class PairwiseLoss
{
    /// <summary>Mean loss over a batch of comparisons; all arguments (N), float32.</summary>
    public static Tensor Compute(Tensor rewardA, Tensor rewardB, Tensor preferA)
    {
        if (!rewardA.shape.SequenceEqual(rewardB.shape) || !rewardA.shape.SequenceEqual(preferA.shape))
            throw new ArgumentException($"rewardA, rewardB and preferA must have one shape; got [{string.Join(", ", rewardA.shape)}], [{string.Join(", ", rewardB.shape)}], [{string.Join(", ", preferA.shape)}].");
        var margin = rewardA - rewardB;
        // softplus(-d) = -log sigmoid(d) and softplus(d) = -log(1 - sigmoid(d)), stable for any d.
        return (preferA * F.softplus(-margin) + (1 - preferA) * F.softplus(margin)).mean();
    }

    /// <summary>The PM's probability that A is preferred: sigmoid(r_A - r_B).</summary>
    public static double PreferenceProbability(double rewardA, double rewardB) => 1.0 / (1.0 + Math.Exp(rewardB - rewardA));
}
