using Cai.Training.Ppo;
using static Cai.Ppo.Tests.TestSupport;
using static TorchSharp.torch;

namespace Cai.Ppo.Tests;

public class GaeTests
{
    [Fact]
    public void MatchesHandComputedAdvantagesAndReturnsOverMaskedResponses()
    {
        // Row 1's response is two tokens long; its third column (value 9) is padding and must not leak in.
        var rewards = T2(new float[,] { { 0, 0, 1 }, { 0.5f, 0, 0 } });
        var values = T2(new float[,] { { 0.1f, 0.2f, 0.3f }, { 0.4f, 0.5f, 9 } });
        var mask = T2(new float[,] { { 1, 1, 1 }, { 1, 1, 0 } });

        var (advantages, returns) = Gae.Compute(rewards, values, mask, gamma: 1, lambda: 0.5);

        // Row 0: deltas 0.1, 0.1, 0.7 -> A2 = 0.7, A1 = 0.1 + 0.5*0.7, A0 = 0.1 + 0.5*0.45.
        // Row 1: deltas 0.5 + 0.5 - 0.4 = 0.6, 0 - 0.5 = -0.5 -> A1 = -0.5, A0 = 0.6 - 0.25.
        Close([0.325f, 0.45f, 0.7f, 0.35f, -0.5f, 0], advantages);
        Close([0.425f, 0.65f, 1.0f, 0.75f, 0.0f, 0], returns);
    }

    [Fact]
    public void DiscountsWithGamma()
    {
        var (advantages, returns) = Gae.Compute(T2(new float[,] { { 0, 1 } }), T2(new float[,] { { 0.5f, 0.2f } }), T2(new float[,] { { 1, 1 } }), gamma: 0.9, lambda: 0.5);
        // delta1 = 1 - 0.2 = 0.8; delta0 = 0.9*0.2 - 0.5 = -0.32; A0 = -0.32 + 0.45*0.8 = 0.04.
        Close([0.04f, 0.8f], advantages);
        Close([0.54f, 1.0f], returns);
    }

    [Fact]
    public void RefusesMismatchedShapes() =>
        Assert.Throws<ArgumentException>(() => Gae.Compute(zeros(2, 3), zeros(2, 2), ones(2, 3), 1, 0.95));
}

public class PolicyLossTests
{
    [Fact]
    public void ClippedObjectiveMatchesHandComputedValuesAndClipFraction()
    {
        // Ratios 1.5, 0.5, 1.1 (and a masked 3.0); advantages 1, 1, -2 (and 5).
        var logProbs = T(MathF.Log(1.5f), MathF.Log(0.5f), MathF.Log(1.1f), MathF.Log(3f)).unsqueeze(0).requires_grad_(true);
        var old = zeros(1, 4);
        var advantages = T(1, 1, -2, 5).unsqueeze(0);
        var mask = T(1, 1, 1, 0).unsqueeze(0);

        var result = PolicyLoss.Compute(logProbs, old, advantages, mask, clipRange: 0.2);

        // Token 0 is clipped (max(-1.5, -1.2) = -1.2); token 1 keeps -0.5; token 2 has 2.2 both ways.
        Close((-1.2 - 0.5 + 2.2) / 3, result.Loss);
        Close(1.0 / 3, result.ClipFraction);
        result.Loss.backward();
        // A clipped token passes no gradient; an unclipped one passes -A * ratio / n.
        Close([0f, -0.5f / 3, 2.2f / 3, 0f], logProbs.grad!);
    }

    [Fact]
    public void EqualPoliciesGiveMinusMeanAdvantageAndNoClipping()
    {
        var lp = T(-1, -2, -3).unsqueeze(0);
        var result = PolicyLoss.Compute(lp, lp.clone(), T(1, 2, 3).unsqueeze(0), ones(1, 3), 0.2);
        Close(-2, result.Loss);
        Close(0, result.ClipFraction);
        Close(0, result.ApproxKl);
    }
}

public class ValueLossTests
{
    [Fact]
    public void ClippedValueLossMatchesHandComputedValuesAndClipFraction()
    {
        var values = T(1.0f, 0.0f, 2.0f, 50f).unsqueeze(0);
        var old = T(0.5f, 0.1f, 2.0f, 0f).unsqueeze(0);
        var returns = T(2.0f, 0.0f, 1.0f, 0f).unsqueeze(0);
        var mask = T(1, 1, 1, 0).unsqueeze(0);

        var result = ValueLoss.Compute(values, old, returns, mask, clipRange: 0.2);

        // Token 0: the value may only reach 0.7, error 1.3^2 = 1.69 beats 1; tokens 1, 2: 0 and 1, unclipped.
        Close(0.5 * (1.69 + 0 + 1) / 3, result.Loss);
        Close(1.0 / 3, result.ClipFraction);
    }

    [Fact]
    public void ExplainedVarianceIsOneForPerfectValuesAndZeroForTheMean()
    {
        var returns = T(1, 2, 3, 4).unsqueeze(0);
        var mask = ones(1, 4);
        Assert.Equal(1.0, ValueLoss.ExplainedVariance(returns, returns, mask), 5);
        Assert.Equal(0.0, ValueLoss.ExplainedVariance(full(1, 4, 2.5f), returns, mask), 5);
    }
}

public class WhiteningAndKlTests
{
    [Fact]
    public void WhiteningUsesMaskedMeanAndUnbiasedVariance()
    {
        // Masked mean 2, unbiased variance 1; the padded 100 is ignored and comes out as 0.
        Close([-1f, 0f, 1f, 0f], AdvantageWhitening.Whiten(T(1, 2, 3, 100).unsqueeze(0), T(1, 1, 1, 0).unsqueeze(0)), 1e-4);
    }

    [Fact]
    public void KlEstimatorsMatchTheirDefinitions()
    {
        var logp = T(MathF.Log(0.5f), MathF.Log(0.25f));
        var reference = T(MathF.Log(0.25f), MathF.Log(0.25f));
        Close([MathF.Log(2), 0f], KlPenalty.PerToken(logp, reference, KlEstimator.K1));
        // k3 = (r - 1) - log r with r = p_ref / p = 0.5.
        Close([0.5f - 1 + MathF.Log(2), 0f], KlPenalty.PerToken(logp, reference, KlEstimator.K3));
    }

    [Fact]
    public void EntropyOfUniformLogitsIsLogOfVocabulary()
    {
        var entropy = EntropyBonus.PerToken(zeros(1, 2, 4));
        Close([MathF.Log(4), MathF.Log(4)], entropy);
        Close(0.1 * Math.Log(4), EntropyBonus.Compute(entropy, ones(1, 2), 0.1));
    }
}

public class KlControllerTests
{
    [Fact]
    public void AdaptiveCoefficientRisesAboveTargetAndFallsBelow()
    {
        var controller = new AdaptiveKlController(coefficient: 0.1, target: 6, horizon: 100);
        controller.Update(observedKl: 12, samples: 10); // error clipped to +0.2: x 1.02
        Assert.Equal(0.102, controller.Coefficient, 10);
        controller.Update(observedKl: 3, samples: 10); // error -0.5 clipped to -0.2: x 0.98
        Assert.Equal(0.102 * 0.98, controller.Coefficient, 10);
        controller.Update(observedKl: 6.6, samples: 10); // error +0.1: x 1.01
        Assert.Equal(0.102 * 0.98 * 1.01, controller.Coefficient, 10);
    }

    [Fact]
    public void AdaptiveCoefficientConvergesDownWhileKlStaysBelowTarget()
    {
        var controller = new AdaptiveKlController(0.2, 6, 100);
        double before = controller.Coefficient;
        for (int i = 0; i < 50; i++) controller.Update(1, 16);
        Assert.True(controller.Coefficient < before / 2, $"coefficient {controller.Coefficient}");
    }

    [Fact]
    public void FixedCoefficientStays()
    {
        var controller = new FixedKlController(0.05);
        controller.Update(100, 64);
        controller.Update(0, 64);
        Assert.Equal(0.05, controller.Coefficient);
    }

    [Fact]
    public void OptionsChooseTheController()
    {
        Assert.IsType<AdaptiveKlController>(new PpoOptions { AdaptiveKl = true }.CreateKlController());
        var fixedOne = new PpoOptions { AdaptiveKl = false, KlCoefficient = 0.3 }.CreateKlController();
        Assert.IsType<FixedKlController>(fixedOne);
        Assert.Equal(0.3, fixedOne.Coefficient);
    }
}

public class OptionsTests
{
    [Fact]
    public void InvalidOptionsAreRefusedNamingEachProperty()
    {
        var e = Assert.Throws<ArgumentException>(() => new PpoOptions { MiniBatchSize = 12, GradientAccumulationSteps = 5, Lambda = 2 }.ThrowIfInvalid());
        Assert.Contains(nameof(PpoOptions.GradientAccumulationSteps), e.Message);
        Assert.Contains(nameof(PpoOptions.Lambda), e.Message);
        Assert.Empty(new PpoOptions().Validate());
        Assert.Contains(nameof(PpoOptions.FrozenModelsDtype), Assert.Single(new PpoOptions { FrozenModelsDtype = ScalarType.Float16 }.Validate()));
    }
}
