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
