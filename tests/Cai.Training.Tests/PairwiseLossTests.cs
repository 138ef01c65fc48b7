using Cai.Training.PreferenceModel;
using static TorchSharp.torch;

namespace Cai.Training.Tests;

public class PairwiseLossTests
{
    [Fact]
    public void Value_and_gradient_match_a_hand_computation()
    {
        // r_A = 2, r_B = 0.5, p = 0.8: d = 1.5, sigmoid(1.5) = 0.817574476...
        // loss = 0.8 ln(1 + e^-1.5) + 0.2 ln(1 + e^1.5) = 0.8 x 0.201413278 + 0.2 x 1.701413278 = 0.501413278
        // dloss/dr_A = sigmoid(d) - p = 0.017574476, dloss/dr_B = -0.017574476
        var ra = tensor(new[] { 2.0f }).requires_grad_();
        var rb = tensor(new[] { 0.5f }).requires_grad_();
        var loss = PairwiseLoss.Compute(ra, rb, tensor(new[] { 0.8f }));
        Assert.Equal(0.501413278, loss.item<float>(), 5);
        loss.backward();
        Assert.Equal(0.017574476, ra.grad!.item<float>(), 5);
        Assert.Equal(-0.017574476, rb.grad!.item<float>(), 5);
    }

    [Fact]
    public void Batch_loss_is_the_mean_and_a_half_label_wants_no_margin()
    {
        var ra = tensor(new[] { 0.0f, 3.0f }).requires_grad_();
        var rb = tensor(new[] { 0.0f, 1.0f }).requires_grad_();
        var loss = PairwiseLoss.Compute(ra, rb, tensor(new[] { 0.5f, 1.0f }));
        // ln 2 for the tie at p = 0.5; ln(1 + e^-2) = 0.126928011 for the second.
        Assert.Equal((Math.Log(2) + 0.126928011) / 2, loss.item<float>(), 5);
        loss.backward();
        var g = ra.grad!.data<float>().ToArray();
        Assert.Equal(0.0, g[0], 6); // sigmoid(0) - 0.5 = 0
        Assert.Equal((1 / (1 + Math.Exp(-2)) - 1) / 2, g[1], 5);
        Assert.Equal(0.5, PairwiseLoss.PreferenceProbability(1.25, 1.25), 12);
        Assert.Equal(1 / (1 + Math.Exp(-1.5)), PairwiseLoss.PreferenceProbability(2, 0.5), 12);
    }

    [Fact]
    public void Mismatched_shapes_are_refused()
    {
        Assert.Throws<ArgumentException>(() => PairwiseLoss.Compute(zeros(2), zeros(3), zeros(2)));
    }
}
