using Cai.Modeling.Scoring;
using static TorchSharp.torch;
using static Cai.Modeling.Tests.TestSupport;

namespace Cai.Modeling.Tests;

public class ScorerTests
{
    [Fact]
    public void ScoreEqualsSumOfLogSoftmaxOverAPlainForwardPass()
    {
        var m = Model();
        (int[] Prompt, int[] Continuation)[] items =
        [
            ([1, 5, 9], [12, 13]),
            ([1], [7, 7, 7, 40, 2]),
            ([1, 2, 3, 4, 5, 6, 7], [8]),
            ([3, 3], []),
        ];
        var scores = new Scorer(m, batchSize: 3).Score(items);
        using var _ = inference_mode();
        for (int i = 0; i < items.Length; i++)
        {
            var (prompt, cont) = items[i];
            var ids = prompt.Concat(cont).Select(x => (long)x).ToArray();
            var logProbs = m.Forward(tensor(ids).unsqueeze(0)).Logits[0].log_softmax(-1);
            double sum = 0;
            Assert.Equal(cont.Length, scores[i].TokenLogProbs.Length);
            for (int j = 0; j < cont.Length; j++)
            {
                var expected = logProbs[prompt.Length - 1 + j, cont[j]].item<float>();
                Assert.Equal(expected, scores[i].TokenLogProbs[j], 4);
                sum += expected;
            }
            Assert.Equal(sum, scores[i].Sum, 4);
        }
        Assert.Equal(0, scores[3].Sum);
    }

    [Fact]
    public void OptionsThatShareAPromptScoreAsTheyDoAlone()
    {
        // Consecutive items with one prompt share its prefill (KV cache, rows repeated per option); prompts of
        // different lengths are left-padded. Each must score as it does as a whole sequence.
        var m = Model();
        int[] p1 = [1, 5, 9, 4], p2 = [1, 2], p3 = [1, 7, 7, 3, 3, 8, 9];
        (int[] Prompt, int[] Continuation)[] items =
        [
            (p1, [12, 13, 14]), (p1, [12, 20, 14]),
            (p2, [30]),
            (p3, [8]), (p3, [40, 2]), (p3, [41]),
            ([1, 6], [7, 8]),
        ];
        var grouped = new Scorer(m, batchSize: 2).Score(items);
        var alone = items.Select(x => new Scorer(m).Score([x])[0]).ToList();
        for (int i = 0; i < items.Length; i++)
        {
            Assert.Equal(items[i].Continuation.Length, grouped[i].TokenLogProbs.Length);
            for (int j = 0; j < items[i].Continuation.Length; j++)
                Assert.Equal(alone[i].TokenLogProbs[j], grouped[i].TokenLogProbs[j], 4);
        }
        Assert.NotEqual(grouped[0].Sum, grouped[1].Sum, 3);
    }

    [Fact]
    public void TokenLogProbsIsDifferentiable()
    {
        var m = Model();
        m.train();
        var ids = tensor(new long[] { 1, 5, 9, 12 }).unsqueeze(0);
        var logits = m.Forward(ids.narrow(1, 0, 3)).Logits;
        var lp = Scorer.TokenLogProbs(logits, ids.narrow(1, 1, 3));
        Assert.Equal([1L, 3], lp.shape);
        lp.sum().backward();
        var grad = m.named_parameters().First(p => p.name == "lm_head.weight").parameter.grad;
        Assert.NotNull(grad);
        Assert.True(grad.abs().sum().item<float>() > 0);
    }
}
