using Cai.Modeling;
using Cai.Modeling.Generation;
using Cai.Modeling.Tokenization;
using static TorchSharp.torch;
using static Cai.Modeling.Tests.TestSupport;

namespace Cai.Modeling.Tests;

public class SamplerTests
{
    private static readonly SamplingOptions Greedy = new() { Temperature = 0, MaxNewTokens = 12, StopAtEos = false };

    /// <summary>Greedy decoding the slow way: the whole sequence through the model at every step, no cache.</summary>
    private static List<int> GreedyWithoutCache(LlamaForCausalLM m, int[] prompt, int steps)
    {
        using var _ = inference_mode();
        var seq = prompt.Select(x => (long)x).ToList();
        var result = new List<int>();
        for (int i = 0; i < steps; i++)
        {
            var logits = m.Forward(tensor(seq.ToArray()).unsqueeze(0)).Logits;
            var next = (int)logits[0, -1].argmax().item<long>();
            result.Add(next);
            seq.Add(next);
        }
        return result;
    }

    [Fact]
    public void KvCacheGreedyEqualsNoCacheGreedyTokenForToken()
    {
        var m = Model();
        int[] prompt = [1, 17, 4, 33, 8];
        var cached = new Sampler(m).Generate([prompt], Greedy)[0];
        Assert.Equal(GreedyWithoutCache(m, prompt, 12), cached.Tokens);
        Assert.Equal(FinishReason.Length, cached.FinishReason);
    }

    [Fact]
    public void LeftPaddedBatchGreedyEqualsEachPromptAlone()
    {
        var m = Model(Tiny(modelType: "qwen2", qkvBias: true));
        int[][] prompts = [[1, 17, 4], [1, 9, 9, 30, 41, 12, 5], [2]];
        var batch = new Sampler(m).Generate(prompts, Greedy);
        for (int i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(i, batch[i].PromptIndex);
            Assert.Equal(GreedyWithoutCache(m, prompts[i], 12), batch[i].Tokens);
        }
    }

    [Fact]
    public void SameSeedGivesIdenticalSamplesAndAnotherSeedDiffers()
    {
        var m = Model();
        int[][] prompts = [[1, 17, 4], [1, 9, 9, 30, 41]];
        var options = new SamplingOptions { Temperature = 1.5f, TopK = 20, TopP = 0.95f, MaxNewTokens = 16, SamplesPerPrompt = 3, Seed = 1234, StopAtEos = false };
        var sampler = new Sampler(m);
        var a = sampler.Generate(prompts, options);
        var b = sampler.Generate(prompts, options);
        var c = sampler.Generate(prompts, options with { Seed = 99 });
        Assert.Equal(6, a.Count);
        Assert.Equal(a.Select(s => s.Tokens), b.Select(s => s.Tokens));
        Assert.NotEqual(a.Select(s => s.Tokens), c.Select(s => s.Tokens));
        // Samples of one prompt are independent draws, not copies.
        Assert.NotEqual(a[0].Tokens, a[1].Tokens);
        Assert.Equal([0, 0, 0, 1, 1, 1], a.Select(s => s.PromptIndex));
        Assert.Equal([0, 1, 2, 0, 1, 2], a.Select(s => s.SampleIndex));
    }

    [Fact]
    public void TopKOfOneIsGreedy()
    {
        var m = Model();
        int[] prompt = [1, 5, 6];
        var sampled = new Sampler(m).Generate([prompt], new SamplingOptions { Temperature = 2f, TopK = 1, MaxNewTokens = 8, Seed = 3, StopAtEos = false })[0];
        Assert.Equal(GreedyWithoutCache(m, prompt, 8), sampled.Tokens);
        var nucleus = new Sampler(m).Generate([prompt], new SamplingOptions { Temperature = 1f, TopP = 1e-6f, MaxNewTokens = 8, Seed = 3, StopAtEos = false })[0];
        Assert.Equal(GreedyWithoutCache(m, prompt, 8), nucleus.Tokens);
    }

    [Fact]
    public void StopTokenEndsOnlyItsOwnSequence()
    {
        var m = Model();
        int[][] prompts = [[1, 17, 4], [1, 9, 9, 30]];
        var free = new Sampler(m).Generate(prompts, Greedy);
        int stop = free[0].Tokens[2];
        int firstStop = free[0].Tokens.ToList().IndexOf(stop);
        var stopped = new Sampler(m).Generate(prompts, Greedy with { StopTokenIds = [stop] });
        Assert.Equal(free[0].Tokens[..(firstStop + 1)], stopped[0].Tokens);
        Assert.Equal(FinishReason.StopToken, stopped[0].FinishReason);
        // The other row keeps going after its neighbour left the batch, with the same tokens.
        int otherStop = free[1].Tokens.ToList().IndexOf(stop);
        Assert.Equal(otherStop < 0 ? free[1].Tokens : free[1].Tokens[..(otherStop + 1)], stopped[1].Tokens);
    }

    private static (LlamaForCausalLM, HfTokenizer) TextModel()
    {
        var tok = HfTokenizer.Load(TokenizerTests.WriteWordLevel());
        var m = Model(Tiny() with { VocabSize = tok.VocabSize });
        return (m, tok);
    }

    [Fact]
    public void StopStringCutsTheTextAndStreamingAddsUpToIt()
    {
        var (m, tok) = TextModel();
        using var _ = tok;
        var sampler = new Sampler(m, tok);
        var prompt = "\n\nHuman: hello\n\nAssistant:";
        var options = new SamplingOptions { Temperature = 1f, MaxNewTokens = 20, Seed = 7, StopAtEos = false };
        var free = sampler.Generate([prompt], options)[0];
        Assert.Equal(tok.Decode(free.Tokens), free.Text);
        // A stop string made of the text of a token the model does produce, followed by the next token.
        int j = Enumerable.Range(1, free.Tokens.Length - 2).First(k => tok.Decode([free.Tokens[k], free.Tokens[k + 1]]).Length > 1);
        var stop = tok.Decode([free.Tokens[j], free.Tokens[j + 1]]);
        var streamed = new List<GeneratedToken>();
        var cut = sampler.Generate([prompt], options with { StopStrings = [stop] }, streamed.Add)[0];
        Assert.Equal(FinishReason.StopString, cut.FinishReason);
        Assert.Equal(free.Text[..free.Text.IndexOf(stop, StringComparison.Ordinal)], cut.Text);
        Assert.Equal(cut.Tokens, streamed.Select(t => t.Token));
        Assert.Equal(cut.Text, string.Concat(streamed.Select(t => t.TextDelta)));
        Assert.True(streamed[^1].IsLast);
        Assert.Equal(free.Tokens[..cut.Tokens.Length], cut.Tokens);
    }

    [Fact]
    public void EosFromTheTokenizerStopsTheSequence()
    {
        var (m, tok) = TextModel();
        using var _ = tok;
        var free = new Sampler(m, tok).Generate(["hello"], Greedy)[0];
        // Swap the LM-head rows of EOS (id 2) and the token produced at step k: the run is unchanged
        // before k and produces EOS at k.
        int k = Enumerable.Range(0, free.Tokens.Length).First(i =>
            !free.Tokens[..(i + 1)].Contains(2) && !free.Tokens[..i].Contains(free.Tokens[i]));
        int swapped = free.Tokens[k];
        using (no_grad())
        {
            var head = m.named_parameters().First(p => p.name == "lm_head.weight").parameter;
            var eosRow = head[2].clone();
            head[2].copy_(head[swapped]);
            head[swapped].copy_(eosRow);
        }
        var stopped = new Sampler(m, tok).Generate(["hello"], Greedy with { StopAtEos = true })[0];
        Assert.Equal(FinishReason.StopToken, stopped.FinishReason);
        Assert.Equal([.. free.Tokens[..k], 2], stopped.Tokens);
        Assert.Equal(tok.Decode(free.Tokens[..k]), stopped.Text);
    }

    [Fact]
    public void ConfigEosTokenIdsStopWithoutATokenizer()
    {
        int[] prompt = [1, 17, 4];
        var free = new Sampler(Model()).Generate([prompt], Greedy)[0];
        int eos = free.Tokens[3];
        // Same seed, same weights: only the config's eos_token_id differs.
        var stopped = new Sampler(Model(Tiny() with { EosTokenIds = [eos] })).Generate([prompt], Greedy with { StopAtEos = true })[0];
        Assert.Equal(free.Tokens[..(free.Tokens.ToList().IndexOf(eos) + 1)], stopped.Tokens);
        Assert.Equal(FinishReason.StopToken, stopped.FinishReason);
    }

    [Fact]
    public void NeverSamplesIdsBeyondTheTokenizersVocabulary()
    {
        var tok = HfTokenizer.Load(TokenizerTests.WriteWordLevel());
        using var _ = tok;
        // 50 embedding rows, 21 tokens: make the padding rows the most likely ones.
        var m = Model(Tiny());
        using (no_grad())
        {
            var head = m.named_parameters().First(p => p.name == "lm_head.weight").parameter;
            head.narrow(0, tok.VocabSize, 50 - tok.VocabSize).mul_(100);
        }
        var samples = new Sampler(m, tok).Generate(["hello"], new SamplingOptions { MaxNewTokens = 10, Seed = 1, StopAtEos = false, SamplesPerPrompt = 4 });
        Assert.All(samples, s => Assert.All(s.Tokens, t => Assert.InRange(t, 0, tok.VocabSize - 1)));
    }

    [Fact]
    public async Task StreamAsyncYieldsTheSameTokens()
    {
        var m = Model();
        int[][] prompts = [[1, 2, 3], [4, 5]];
        var options = Greedy with { SamplesPerPrompt = 2 };
        var expected = new Sampler(m).Generate(prompts, options);
        var streamed = new List<GeneratedToken>();
        await foreach (var t in new Sampler(m).StreamAsync(prompts, options)) streamed.Add(t);
        foreach (var seq in expected)
            Assert.Equal(seq.Tokens, streamed.Where(t => t.PromptIndex == seq.PromptIndex && t.SampleIndex == seq.SampleIndex).Select(t => t.Token));
        // Greedy samples of one prompt agree.
        Assert.Equal(expected[0].Tokens, expected[1].Tokens);
    }

    [Fact]
    public void CancellationStopsGeneration()
    {
        var m = Model();
        using var cts = new CancellationTokenSource();
        int seen = 0;
        Assert.ThrowsAny<OperationCanceledException>(() =>
            new Sampler(m).Generate([[1, 2, 3]], Greedy with { MaxNewTokens = 40 }, _ => { if (++seen == 3) cts.Cancel(); }, cts.Token));
        Assert.Equal(3, seen);
    }

    [Fact]
    public void BadRequestsNameTheParameter()
    {
        var m = Model();
        var s = new Sampler(m);
        Assert.Contains("prompts[1]", Assert.Throws<ArgumentException>(() => s.Generate([[1], []], Greedy)).Message);
        Assert.Contains("max_position_embeddings", Assert.Throws<ArgumentException>(() => s.Generate([new int[60]], Greedy)).Message);
        Assert.Equal("TopP", Assert.Throws<ArgumentOutOfRangeException>(() => s.Generate([[1]], Greedy with { TopP = 0 })).ParamName);
        Assert.Contains("tokenizer", Assert.Throws<ArgumentException>(() => s.Generate([[1]], Greedy with { StopStrings = ["x"] })).Message);
    }
}
