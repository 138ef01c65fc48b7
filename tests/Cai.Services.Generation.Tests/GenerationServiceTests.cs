using Cai.Modeling;
using Cai.Modeling.Generation;
using Cai.Modeling.Scoring;
using Cai.Modeling.Tokenization;
using Cai.Protos.V1;
using Cai.Services.Generation.Models;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Cai.Services.Generation.Tests;

public sealed class GenerationServiceTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private Cai.Protos.V1.Generation.GenerationClient Client => fixture.Server.Client;

    internal static DateTime Deadline(int seconds = 60) => DateTime.UtcNow.AddSeconds(seconds);

    internal static GenerateRequest Greedy(string prompt, int maxNewTokens, bool stream = false, string model = "tiny") => new()
    {
        Model = model,
        Prompts = { prompt },
        Sampling = new SamplingParams { Temperature = 0, MaxNewTokens = maxNewTokens },
        StreamTokens = stream,
    };

    internal static async Task<List<GenerateResponse>> ReadAll(AsyncServerStreamingCall<GenerateResponse> call, CancellationToken cancellationToken = default)
    {
        var responses = new List<GenerateResponse>();
        await foreach (var r in call.ResponseStream.ReadAllAsync(cancellationToken)) responses.Add(r);
        return responses;
    }

    internal static async Task<List<GenerateResponse>> Generate(Cai.Protos.V1.Generation.GenerationClient client, GenerateRequest request, int seconds = 60)
    {
        using var call = client.Generate(request, deadline: Deadline(seconds));
        return await ReadAll(call);
    }

    /// <summary>Greedy text of each prompt alone, from the model core's sampler in this process.</summary>
    private string[] InProcessGreedy(IReadOnlyList<string> prompts, int maxNewTokens)
    {
        using var model = Checkpoint.LoadCausalLM(fixture.ModelDir);
        model.eval();
        using var tokenizer = HfTokenizer.Load(fixture.ModelDir);
        var sampler = new Sampler(model, tokenizer);
        return prompts.Select(p => sampler.Generate([p], new SamplingOptions { Temperature = 0, MaxNewTokens = maxNewTokens })[0].Text).ToArray();
    }

    [Fact]
    public async Task GenerateStreamsDeltasThenCompletionsThatMatchTheModelCore()
    {
        string[] prompts = ["hello there", "how are you?"];
        var request = new GenerateRequest
        {
            Model = "tiny",
            Prompts = { prompts },
            Sampling = new SamplingParams { Temperature = 0, MaxNewTokens = 8, NumSamples = 2 },
            StreamTokens = true,
        };
        var responses = await Generate(Client, request);

        int firstCompletion = responses.FindIndex(r => r.KindCase == GenerateResponse.KindOneofCase.Completion);
        Assert.True(firstCompletion > 0, "deltas come first");
        Assert.All(responses.Take(firstCompletion), r => Assert.Equal(GenerateResponse.KindOneofCase.Delta, r.KindCase));
        Assert.All(responses.Skip(firstCompletion), r => Assert.Equal(GenerateResponse.KindOneofCase.Completion, r.KindCase));

        var completions = responses.Skip(firstCompletion).Select(r => r.Completion).ToList();
        Assert.Equal(4, completions.Count);
        var expected = InProcessGreedy(prompts, 8);
        foreach (var c in completions)
        {
            var deltas = responses.Take(firstCompletion).Select(r => r.Delta)
                .Where(d => d.PromptIndex == c.PromptIndex && d.SampleIndex == c.SampleIndex).ToList();
            Assert.Equal(8, deltas.Count); // one per token: the tiny tokenizer has no EOS
            Assert.Equal(c.Text, string.Concat(deltas.Select(d => d.Text)));
            Assert.Equal(8, c.NumTokens);
            Assert.Equal("length", c.FinishReason);
            Assert.Equal(expected[c.PromptIndex], c.Text);
        }
        Assert.Equal([(0, 0), (0, 1), (1, 0), (1, 1)], completions.Select(c => (c.PromptIndex, c.SampleIndex)).Order().ToArray());
    }

    [Fact]
    public async Task WithoutStreamTokensOnlyCompletionsArrive()
    {
        var responses = await Generate(Client, Greedy("hello", 5));
        var only = Assert.Single(responses);
        Assert.Equal(GenerateResponse.KindOneofCase.Completion, only.KindCase);
        Assert.Equal(5, only.Completion.NumTokens);
    }

    [Fact]
    public async Task StopStringEndsTheSampleBeforeIt()
    {
        var full = (await Generate(Client, Greedy("hello", 12))).Single().Completion.Text;
        var stop = full.Substring(4, 2); // two characters the greedy text contains
        var request = Greedy("hello", 12);
        request.Sampling.Stop.Add(stop);
        var cut = (await Generate(Client, request)).Single().Completion;
        Assert.Equal("stop", cut.FinishReason);
        Assert.Equal(full[..full.IndexOf(stop, StringComparison.Ordinal)], cut.Text);
    }

    [Fact]
    public async Task TheSameSeedGivesTheSameSamplesWhateverTheyAreBatchedWith()
    {
        GenerateRequest Sampled(ulong seed) => new()
        {
            Model = "tiny",
            Prompts = { "tell me", "a story" },
            Sampling = new SamplingParams { Temperature = 1, TopP = 0.95f, MaxNewTokens = 12, NumSamples = 2, Seed = seed },
        };
        static string[] Texts(List<GenerateResponse> rs) =>
            rs.Select(r => r.Completion).OrderBy(c => c.PromptIndex).ThenBy(c => c.SampleIndex).Select(c => c.Text).ToArray();

        var first = Texts(await Generate(Client, Sampled(1234)));
        var again = Texts(await Generate(Client, Sampled(1234)));
        Assert.Equal(first, again);
        Assert.NotEqual(first, Texts(await Generate(Client, Sampled(99))));

        // The same request among concurrent unseeded sampling traffic with the same settings.
        var crowd = Enumerable.Range(0, 6).Select(_ => Generate(Client, Sampled(0))).ToList();
        var amid = Generate(Client, Sampled(1234));
        await Task.WhenAll(crowd.Append(amid));
        Assert.Equal(first, Texts(await amid));
    }

    public static TheoryData<string, string> BadRequests => new()
    {
        { "no model", "model" },
        { "no prompts", "prompts" },
        { "empty prompt", "prompts[1]" },
        { "negative temperature", "sampling.temperature" },
        { "top_p above 1", "sampling.top_p" },
        { "negative top_p", "sampling.top_p" },
        { "negative top_k", "sampling.top_k" },
        { "negative max_new_tokens", "sampling.max_new_tokens" },
        { "max_new_tokens above the limit", "sampling.max_new_tokens" },
        { "negative num_samples", "sampling.num_samples" },
        { "too many samples", "sampling.num_samples" },
        { "empty stop string", "sampling.stop[0]" },
        { "prompt too long", "prompts[0]" },
        { "too many prompts", "prompts" },
    };

    private static GenerateRequest Bad(string name)
    {
        var r = new GenerateRequest { Model = "tiny", Prompts = { "hello", "world" }, Sampling = new SamplingParams { MaxNewTokens = 4 } };
        switch (name)
        {
            case "no model": r.Model = ""; break;
            case "no prompts": r.Prompts.Clear(); break;
            case "empty prompt": r.Prompts[1] = ""; break;
            case "negative temperature": r.Sampling.Temperature = -0.5f; break;
            case "top_p above 1": r.Sampling.TopP = 1.5f; break;
            case "negative top_p": r.Sampling.TopP = -0.1f; break;
            case "negative top_k": r.Sampling.TopK = -1; break;
            case "negative max_new_tokens": r.Sampling.MaxNewTokens = -1; break;
            case "max_new_tokens above the limit": r.Sampling.MaxNewTokens = 101; break; // the fixture's limit is 100
            case "negative num_samples": r.Sampling.NumSamples = -1; break;
            case "too many samples": r.Sampling.NumSamples = 65; break; // MaxBatchSize 64
            case "empty stop string": r.Sampling.Stop.Add(""); break;
            case "prompt too long": r.Prompts[0] = new string('a', 80); break; // MaxPromptTokens 64
            case "too many prompts": r.Prompts.AddRange(Enumerable.Repeat("hi", 63)); break; // 65 > 64
            default: throw new ArgumentOutOfRangeException(nameof(name), name, "unknown case");
        }
        return r;
    }

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task EachBadParameterIsRejectedNamingItsField(string name, string field)
    {
        var e = await Assert.ThrowsAsync<RpcException>(() => Generate(Client, Bad(name), seconds: 30));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.StartsWith(field + ":", e.Status.Detail);
    }

    [Theory]
    [InlineData("no items", "items")]
    [InlineData("empty prompt", "items[0].prompt")]
    [InlineData("no continuations", "items[1].continuations")]
    [InlineData("empty continuation", "items[0].continuations[1]")]
    [InlineData("no model", "model")]
    public async Task BadScoreRequestsAreRejectedNamingTheField(string name, string field)
    {
        var r = new ScoreRequest
        {
            Model = "tiny",
            Items = { new ScoreItem { Prompt = "q", Continuations = { " a", " b" } }, new ScoreItem { Prompt = "r", Continuations = { " c" } } },
        };
        switch (name)
        {
            case "no items": r.Items.Clear(); break;
            case "empty prompt": r.Items[0].Prompt = ""; break;
            case "no continuations": r.Items[1].Continuations.Clear(); break;
            case "empty continuation": r.Items[0].Continuations[1] = ""; break;
            case "no model": r.Model = " "; break;
        }
        var e = await Assert.ThrowsAsync<RpcException>(async () => await Client.ScoreAsync(r, deadline: Deadline(30)));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.StartsWith(field + ":", e.Status.Detail);
    }

    [Fact]
    public async Task AnUnknownModelFolderIsNotFound()
    {
        var e = await Assert.ThrowsAsync<RpcException>(() => Generate(Client, Greedy("hello", 4, model: "no-such-model"), seconds: 30));
        Assert.Equal(StatusCode.NotFound, e.StatusCode);
        Assert.Contains("no-such-model", e.Status.Detail);
    }

    [Fact]
    public async Task AFolderThatIsNotAUsableModelIsAnInvalidModelArgument()
    {
        var broken = Path.Combine(fixture.Root, "broken");
        Directory.CreateDirectory(broken);
        File.WriteAllText(Path.Combine(broken, "config.json"), "{\"model_type\": \"gpt2\"}");
        var e = await Assert.ThrowsAsync<RpcException>(() => Generate(Client, Greedy("hello", 4, model: "broken"), seconds: 30));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.StartsWith("model:", e.Status.Detail);
        Assert.Contains("gpt2", e.Status.Detail);
    }

    [Fact]
    public async Task ScoreEqualsTheModelCoreScorer()
    {
        var request = new ScoreRequest
        {
            Model = "tiny",
            Items =
            {
                new ScoreItem { Prompt = "which is better? answer:", Continuations = { " (a)", " (b)" } },
                new ScoreItem { Prompt = "hello", Continuations = { " world, how are you?" } },
            },
        };
        var response = await Client.ScoreAsync(request, deadline: Deadline());

        using var model = Checkpoint.LoadCausalLM(fixture.ModelDir);
        model.eval();
        using var tokenizer = HfTokenizer.Load(fixture.ModelDir);
        var expected = new Scorer(model).Score(tokenizer, [("which is better? answer:", " (a)"), ("which is better? answer:", " (b)"), ("hello", " world, how are you?")]);

        var got = response.Items.SelectMany(i => i.Continuations).ToList();
        Assert.Equal([2, 1], response.Items.Select(i => i.Continuations.Count));
        Assert.Equal(expected.Count, got.Count);
        for (int i = 0; i < got.Count; i++)
        {
            Assert.Equal(expected[i].TokenLogProbs.Length, got[i].NumTokens);
            Assert.Equal(expected[i].TokenLogProbs.Length, got[i].TokenLogprobs.Count);
            // Batched with other rows, the padding differs: equal up to float rounding.
            Assert.Equal(expected[i].Sum, got[i].SumLogprob, 1e-4);
            for (int t = 0; t < got[i].NumTokens; t++) Assert.Equal(expected[i].TokenLogProbs[t], got[i].TokenLogprobs[t], 1e-4f);
            Assert.True(got[i].SumLogprob < 0);
        }
    }

    [Fact]
    public async Task ConcurrentScoreCallsShareModelCallsAndEachGetsItsOwnScores()
    {
        var texts = Enumerable.Range(0, 8).Select(i => $" answer {i}").ToArray();
        ScoreRequest Single(string continuation) => new() { Model = "tiny", Items = { new ScoreItem { Prompt = "question:", Continuations = { continuation } } } };
        var alone = new List<double>();
        foreach (var t in texts) alone.Add((await Client.ScoreAsync(Single(t), deadline: Deadline())).Items[0].Continuations[0].SumLogprob);

        var scoreBatches = new System.Collections.Concurrent.ConcurrentBag<int>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        var factory = fixture.Server.MeterFactory;
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Scope == factory && instrument.Name == GenerationMetrics.BatchSizeName) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<int>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
                if (tag is { Key: "kind", Value: "score" }) scoreBatches.Add(value);
        });
        listener.Start();

        var together = await Task.WhenAll(texts.Select(t => Client.ScoreAsync(Single(t), deadline: Deadline()).ResponseAsync));
        for (int i = 0; i < texts.Length; i++) Assert.Equal(alone[i], together[i].Items[0].Continuations[0].SumLogprob, 1e-4);
        Assert.Equal(texts.Length, scoreBatches.Sum());
        Assert.Contains(scoreBatches, size => size > 1);
    }

    [Fact]
    public async Task ACancelledCallDoesNotBreakTheOthers()
    {
        string[] prompts = ["one", "two", "three", "four", "five", "six"];
        var expected = InProcessGreedy(prompts, 40);
        using var cts = new CancellationTokenSource();
        var victim = Client.Generate(Greedy("victim", 40, stream: true), deadline: Deadline(), cancellationToken: cts.Token);
        var others = prompts.Select(p => Generate(Client, Greedy(p, 40))).ToList();

        Assert.True(await victim.ResponseStream.MoveNext(CancellationToken.None), "the victim's first delta");
        await cts.CancelAsync();
        var e = await Assert.ThrowsAsync<RpcException>(() => ReadAll(victim));
        Assert.Equal(StatusCode.Cancelled, e.StatusCode);
        victim.Dispose();

        var results = await Task.WhenAll(others);
        for (int i = 0; i < prompts.Length; i++)
        {
            var c = Assert.Single(results[i]).Completion;
            Assert.Equal(40, c.NumTokens);
            Assert.Equal(expected[i], c.Text);
        }
        // The service still serves, and nothing is left in the queue.
        Assert.Single(await Generate(Client, Greedy("after", 3)));
        var info = await Client.InfoAsync(new InfoRequest(), deadline: Deadline(30));
        Assert.Equal("0", info.Details["queue_length"]);
    }

    [Fact]
    public async Task InfoReportsDeviceLoadedModelsAndQueueLength()
    {
        await Generate(Client, Greedy("hello", 2));
        var info = await Client.InfoAsync(new InfoRequest(), deadline: Deadline(30));
        Assert.Equal("generation", info.Service);
        Assert.Equal("cpu", info.Device);
        Assert.Contains("tiny", info.Details["loaded_models"].Split(';'));
        Assert.Equal("0", info.Details["queue_length"]);
        Assert.Equal(["Generate", "Info", "Score"], info.LiveRpcs.Order().ToArray());
        Assert.Empty(info.UnimplementedRpcs);
    }

    [Fact]
    public async Task ConcurrentLoadsOfOneModelLoadItOnce()
    {
        var registry = fixture.Server.Services.GetRequiredService<ModelRegistry>();
        var loads = Enumerable.Range(0, 8).Select(_ => Task.Run(() => registry.GetAsync("tiny-b", CancellationToken.None))).ToList();
        var models = await Task.WhenAll(loads);
        Assert.All(models, m => Assert.Same(models[0], m));
        Assert.Equal(Path.Combine(fixture.Root, "tiny-b"), models[0].Path);
    }
}
