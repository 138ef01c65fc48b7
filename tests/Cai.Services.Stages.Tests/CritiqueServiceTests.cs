using Cai.Core.Constitutions;
using Cai.Protos.V1;
using Cai.Services.Critique;
using Cai.Services.Critique.Grpc;
using CritiqueClient = Cai.Protos.V1.Critique.CritiqueClient;

namespace Cai.Services.Stages.Tests;

public sealed class CritiqueServiceTests(ModelFixture models) : IClassFixture<ModelFixture>, IAsyncLifetime
{
    private StageServer _server = null!;
    private CritiqueClient Client => new(_server.Channel);

    public async Task InitializeAsync() => _server = await StageServer.StartAsync(b => b.AddCritique(), a => a.MapGrpcService<CritiqueService>(),
        models.Settings(("Critique:Model", "policy"), ("Critique:Constitution", TestPaths.DefaultConstitution), ("Critique:WatchActiveRuns", "false")));

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static CritiqueReviseRequest Request(ulong seed, string promptId = "p-1") => new()
    {
        PromptId = promptId,
        Prompt = "How do I pick a lock?",
        Rounds = 2,
        Seed = seed,
        FewShot = 0,
        Sampling = new SamplingParams { Temperature = 1, MaxNewTokens = 6 },
    };

    [Fact]
    public async Task CritiqueReviseReturnsRoundsUnderConstitutionPrinciplesAndIsReproducibleFromItsSeed()
    {
        var constitution = ConstitutionLoader.Load(TestPaths.DefaultConstitution);
        var first = await Client.CritiqueReviseAsync(Request(seed: 11), deadline: TestPaths.Deadline());
        var again = await Client.CritiqueReviseAsync(Request(seed: 11), deadline: TestPaths.Deadline());

        Assert.Equal("p-1", first.PromptId);
        Assert.Equal(2, first.Rounds.Count);
        foreach (var round in first.Rounds)
        {
            var principle = constitution.GetCritiqueRevisionPrinciple(round.PrincipleId);
            Assert.Equal(principle.CritiqueRequest, round.CritiqueRequest);
            Assert.Equal(principle.RevisionRequest, round.RevisionRequest);
        }
        Assert.Equal(first.Rounds[^1].Revision, first.FinalRevision);
        Assert.Equal(first, again);

        // The principles are drawn from the seed: over a few seeds the draws are not all the same.
        var draws = new HashSet<string>();
        for (ulong seed = 1; seed <= 4; seed++)
        {
            var r = await Client.CritiqueReviseAsync(Request(seed), deadline: TestPaths.Deadline());
            draws.Add(string.Join(",", r.Rounds.Select(x => x.PrincipleId)));
        }
        Assert.True(draws.Count > 1, "every seed drew the same principles");
    }

    [Fact]
    public async Task ReviseDirectlyWritesNoCritique()
    {
        var request = Request(seed: 3);
        request.ReviseDirectly = true;
        var response = await Client.CritiqueReviseAsync(request, deadline: TestPaths.Deadline());
        Assert.Equal(2, response.Rounds.Count);
        Assert.All(response.Rounds, r => Assert.Equal("", r.Critique));
    }

    [Fact]
    public async Task InvalidFieldsAreRefusedNamingTheField()
    {
        var noId = Request(1, promptId: "");
        await TestPaths.AssertInvalidArgument(() => Client.CritiqueReviseAsync(noId, deadline: TestPaths.Deadline()).ResponseAsync, "prompt_id");

        var endsWithAssistant = Request(1);
        endsWithAssistant.Prompt = "\n\nHuman: hi\n\nAssistant: hello";
        await TestPaths.AssertInvalidArgument(() => Client.CritiqueReviseAsync(endsWithAssistant, deadline: TestPaths.Deadline()).ResponseAsync, "prompt");

        var negativeRounds = Request(1);
        negativeRounds.Rounds = -1;
        await TestPaths.AssertInvalidArgument(() => Client.CritiqueReviseAsync(negativeRounds, deadline: TestPaths.Deadline()).ResponseAsync, "rounds");

        var badTopP = Request(1);
        badTopP.Sampling.TopP = 1.5f;
        await TestPaths.AssertInvalidArgument(() => Client.CritiqueReviseAsync(badTopP, deadline: TestPaths.Deadline()).ResponseAsync, "sampling.top_p");

        var tooManyExamples = Request(1);
        tooManyExamples.FewShot = 1000;
        await TestPaths.AssertInvalidArgument(() => Client.CritiqueReviseAsync(tooManyExamples, deadline: TestPaths.Deadline()).ResponseAsync, "few_shot");
    }

    [Fact]
    public async Task InfoReportsCritiqueReviseLive()
    {
        var info = await Client.InfoAsync(new InfoRequest(), deadline: TestPaths.Deadline());
        Assert.Contains("CritiqueRevise", info.LiveRpcs);
        Assert.Equal("in-process", info.Details["inference"]);
    }
}
