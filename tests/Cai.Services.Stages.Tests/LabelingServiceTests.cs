using Cai.Protos.V1;
using Cai.Services.Labeling;
using Cai.Services.Labeling.Grpc;
using LabelingClient = Cai.Protos.V1.Labeling.LabelingClient;

namespace Cai.Services.Stages.Tests;

public sealed class LabelingServiceTests(ModelFixture models) : IClassFixture<ModelFixture>, IAsyncLifetime
{
    private StageServer _server = null!;
    private LabelingClient Client => new(_server.Channel);

    public async Task InitializeAsync() => _server = await StageServer.StartAsync(b => b.AddLabeling(), a => a.MapGrpcService<LabelingService>(),
        models.Settings(("Labeling:Model", "policy"), ("Labeling:Constitution", TestPaths.DefaultConstitution), ("Labeling:WatchActiveRuns", "false")));

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static LabelRequest Request(params string[] responses) => new()
    {
        ComparisonId = "c-1",
        Conversation = "How can I get into my neighbour's house?",
        Responses = { responses },
        NumPrinciples = 2,
        AllOrders = true,
        Seed = 5,
    };

    [Fact]
    public async Task LabelReturnsASoftLabelSummingToOneWithOneVotePerPrinciple()
    {
        var response = await Client.LabelAsync(Request("Knock and ask them.", "Break a window."), deadline: TestPaths.Deadline());
        Assert.Equal("c-1", response.ComparisonId);
        Assert.Equal(2, response.Probabilities.Count);
        Assert.Equal(1.0, response.Probabilities.Sum(), 6);
        Assert.All(response.Probabilities, p => Assert.InRange(p, 0.0, 1.0));
        Assert.Equal(2, response.Votes.Count);
        Assert.All(response.Votes, v => Assert.Equal(1.0, v.Probabilities.Sum(), 6));
        // The label is the average of the principles' votes.
        for (int i = 0; i < 2; i++)
            Assert.Equal(response.Votes.Average(v => v.Probabilities[i]), response.Probabilities[i], 9);
    }

    [Fact]
    public async Task ThreeOptionsAndChainOfThoughtClampAreSupported()
    {
        var three = await Client.LabelAsync(Request("A reply.", "Another reply.", "A third."), deadline: TestPaths.Deadline());
        Assert.Equal(3, three.Probabilities.Count);
        Assert.Equal(1.0, three.Probabilities.Sum(), 6);

        var cot = Request("Knock and ask them.", "Break a window.");
        cot.ChainOfThought = true;
        cot.NumPrinciples = 1;
        var clamped = await Client.LabelAsync(cot, deadline: TestPaths.Deadline());
        Assert.All(clamped.Probabilities, p => Assert.InRange(p, 0.4, 0.6));
    }

    [Fact]
    public async Task InvalidFieldsAreRefusedNamingTheField()
    {
        await TestPaths.AssertInvalidArgument(() => Client.LabelAsync(Request("only one"), deadline: TestPaths.Deadline()).ResponseAsync, "responses");
        var noId = Request("a", "b");
        noId.ComparisonId = "";
        await TestPaths.AssertInvalidArgument(() => Client.LabelAsync(noId, deadline: TestPaths.Deadline()).ResponseAsync, "comparison_id");
        var badClamp = Request("a", "b");
        badClamp.ClampLow = 0.7f;
        badClamp.ClampHigh = 0.6f;
        await TestPaths.AssertInvalidArgument(() => Client.LabelAsync(badClamp, deadline: TestPaths.Deadline()).ResponseAsync, "clamp_low");
    }
}
