using Cai.Protos.V1;

namespace Cai.Services.Generation.Tests;

/// <summary>Generation:ComputeDtype serves the same checkpoint in bf16: close scores, real completions.</summary>
public sealed class PrecisionTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task A_bf16_server_scores_close_to_f32_and_still_generates()
    {
        await using var bf16 = await GenerationServer.StartAsync(fixture.Root, ("Generation:ComputeDtype", "bf16"), ("Generation:Threads", "1"));
        var request = new ScoreRequest { Model = "tiny", Items = { new ScoreItem { Prompt = "\n\nHuman: hello\n\nAssistant:", Continuations = { " hi there", " no" } } } };

        var f32Scores = await fixture.Server.Client.ScoreAsync(request, deadline: GenerationServiceTests.Deadline());
        var bf16Scores = await bf16.Client.ScoreAsync(request, deadline: GenerationServiceTests.Deadline());
        for (int i = 0; i < 2; i++)
        {
            double f32 = f32Scores.Items[0].Continuations[i].SumLogprob, half = bf16Scores.Items[0].Continuations[i].SumLogprob;
            Assert.True(Math.Abs(f32 - half) <= 0.05 * Math.Abs(f32) + 0.05, $"continuation {i}: f32 {f32} vs bf16 {half}");
        }

        var responses = await GenerationServiceTests.Generate(bf16.Client, GenerationServiceTests.Greedy("\n\nHuman: hello\n\nAssistant:", 8));
        Assert.True(responses.Single(r => r.KindCase == GenerateResponse.KindOneofCase.Completion).Completion.NumTokens > 0);
        var info = await bf16.Client.InfoAsync(new InfoRequest(), deadline: GenerationServiceTests.Deadline());
        Assert.Equal("BFloat16", info.Details["compute_dtype"]);
    }

    [Fact]
    public async Task An_unknown_compute_dtype_stops_start_up_naming_the_key()
    {
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => GenerationServer.StartAsync(fixture.Root, ("Generation:ComputeDtype", "fp16")));
        Assert.Contains("Generation:ComputeDtype", ex.Message);
    }
}
