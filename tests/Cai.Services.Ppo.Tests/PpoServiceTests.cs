using Cai.Modeling;
using Cai.Protos.V1;
using Cai.ServiceDefaults;
using Cai.Services.Ppo.Grpc;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using PpoClient = Cai.Protos.V1.Ppo.PpoClient;

namespace Cai.Services.Ppo.Tests;

/// <summary>The ppo service wired as its Program.cs wires it, served in-process by TestServer, on tiny random models.</summary>
public sealed class PpoServiceTests(TinyModels models) : IClassFixture<TinyModels>, IAsyncLifetime
{
    private WebApplication _app = null!;
    private GrpcChannel _channel = null!;
    private PpoClient Client => new(_channel);

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        // The frozen reference and preference model in bf16 (the service's appsettings.json says "auto").
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Cai:ArtifactsRoot"] = models.Root, ["Ppo:FrozenModelsDtype"] = "bf16" });
        builder.AddCaiRedis();
        builder.Services.AddCaiGrpc();
        builder.AddPpo();
        _app = builder.Build();
        _app.MapGrpcService<PpoService>();
        await _app.StartAsync();
        var server = _app.GetTestServer();
        _channel = GrpcChannel.ForAddress(server.BaseAddress, new GrpcChannelOptions { HttpHandler = server.CreateHandler() });
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private static DateTime Deadline(int seconds = 120) => DateTime.UtcNow.AddSeconds(seconds);

    private PpoTrainRequest Request(string output) => new()
    {
        RunId = "run-ppo",
        PolicyModel = "policy",
        RewardModel = "pm",
        OutputDir = output,
        PromptFiles = { models.WritePrompts(4) },
        Iterations = 2,
        PromptsPerIteration = 2,
        MaxNewTokens = 4,
        LearningRate = 1e-3,
        KlCoef = 0.05,
        Seed = 5,
    };

    private static readonly string[] MetricNames =
        ["reward", "score", "kl", "kl_coef", "entropy", "clip_fraction", "value_loss", "explained_variance", "response_length"];

    [Fact]
    public async Task TrainStreamsProgressThenAResultWhoseModelLoadsAndStatusReportsTheLastProgress()
    {
        using var call = Client.Train(Request("ppo-out"), deadline: Deadline(300));
        var responses = await call.ResponseStream.ReadAllAsync().ToListAsync();

        var progress = responses.TakeWhile(r => r.KindCase == PpoTrainResponse.KindOneofCase.Progress).Select(r => r.Progress).ToList();
        Assert.Equal(2, progress.Count);
        Assert.Equal(3, responses.Count);
        Assert.Equal([1L, 2L], progress.Select(p => p.Step));
        Assert.All(progress, p =>
        {
            Assert.Equal("ppo", p.Stage);
            Assert.Equal(2, p.TotalSteps);
            Assert.All(MetricNames, name => Assert.True(p.Metrics.ContainsKey(name), $"metric {name} missing"));
            Assert.True(double.IsFinite(p.Metrics["score"]) && double.IsFinite(p.Metrics["kl"]));
            Assert.InRange(p.Metrics["response_length"], 1, 4);
        });
        // kl_target 0: beta stays at kl_coef.
        Assert.All(progress, p => Assert.Equal(0.05, p.Metrics["kl_coef"], 12));

        var result = responses[^1].Result;
        Assert.NotNull(result);
        Assert.Equal(2, result.Iterations);
        Assert.Equal(progress[^1].Metrics["reward"], result.FinalReward);
        Assert.Equal(progress[^1].Metrics["kl"], result.FinalKl);
        using (var model = Checkpoint.LoadCausalLM(result.ModelPath))
            Assert.Equal(TinyModels.VocabSize, model.Config.VocabSize);
        Assert.True(File.Exists(Path.Combine(result.ModelPath, "tokenizer.json")));

        var status = await Client.StatusAsync(new PpoStatusRequest { RunId = "run-ppo" }, deadline: Deadline());
        Assert.False(status.Running);
        Assert.Equal("run-ppo", status.RunId);
        Assert.Equal(progress[^1], status.LastProgress);
    }

    [Fact]
    public async Task WhileAJobRunsStatusSaysSoAndASecondJobIsResourceExhausted()
    {
        var longRun = Request("ppo-busy");
        longRun.Iterations = 200;
        using var cts = new CancellationTokenSource();
        using var first = Client.Train(longRun, deadline: Deadline(300), cancellationToken: cts.Token);
        Assert.True(await first.ResponseStream.MoveNext());
        var firstProgress = first.ResponseStream.Current.Progress;
        Assert.NotNull(firstProgress);

        var status = await Client.StatusAsync(new PpoStatusRequest { RunId = "run-ppo" }, deadline: Deadline());
        Assert.True(status.Running);
        Assert.Equal(200, status.LastProgress.TotalSteps);
        Assert.True(status.LastProgress.Step >= firstProgress.Step);

        using var second = Client.Train(Request("ppo-second"), deadline: Deadline());
        var ex = await Assert.ThrowsAsync<RpcException>(() => second.ResponseStream.ReadAllAsync().ToListAsync().AsTask());
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        // The refused call leaves the running job's status alone.
        Assert.True((await Client.StatusAsync(new PpoStatusRequest(), deadline: Deadline())).Running);
        await cts.CancelAsync();
    }

    [Fact]
    public async Task StatusBeforeAnyJobReportsNothingRunning()
    {
        var status = await Client.StatusAsync(new PpoStatusRequest(), deadline: Deadline());
        Assert.False(status.Running);
        Assert.Null(status.LastProgress);
        var info = await Client.InfoAsync(new InfoRequest(), deadline: Deadline());
        Assert.Equal("BFloat16", info.Details["frozen_models_dtype"]);
    }

    [Fact]
    public void AnUnknownFrozenModelsDtypeIsRefusedNamingTheKey()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Ppo:FrozenModelsDtype"] = "fp8" }).Build();
        var e = Assert.Throws<InvalidOperationException>(() => PpoServiceOptions.FromConfiguration(configuration));
        Assert.Contains("Ppo:FrozenModelsDtype", e.Message);
    }

    public static TheoryData<string> BadFields =>
    [
        "policy_model", "reward_model", "output_dir", "prompt_files", "iterations", "prompts_per_iteration",
        "max_new_tokens", "learning_rate", "kl_coef", "kl_target",
    ];

    [Theory]
    [MemberData(nameof(BadFields))]
    public async Task EachBadFieldIsInvalidArgumentNamingIt(string field)
    {
        var request = Request("ppo-bad");
        switch (field)
        {
            case "policy_model": request.PolicyModel = ""; break;
            case "reward_model": request.RewardModel = " "; break;
            case "output_dir": request.OutputDir = ""; break;
            case "prompt_files": request.PromptFiles.Clear(); break;
            case "iterations": request.Iterations = -1; break;
            case "prompts_per_iteration": request.PromptsPerIteration = -2; break;
            case "max_new_tokens": request.MaxNewTokens = -4; break;
            case "learning_rate": request.LearningRate = -1e-3; break;
            case "kl_coef": request.KlCoef = -0.1; break;
            case "kl_target": request.KlTarget = double.NaN; break;
        }
        using var call = Client.Train(request, deadline: Deadline());
        var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.ReadAllAsync().ToListAsync().AsTask());
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith(field + ":", ex.Status.Detail);
    }

    [Fact]
    public async Task UnknownPolicyFolderIsNotFound()
    {
        var request = Request("ppo-missing");
        request.PolicyModel = "no-such-policy";
        using var call = Client.Train(request, deadline: Deadline());
        var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.ReadAllAsync().ToListAsync().AsTask());
        Assert.Equal(StatusCode.NotFound, ex.StatusCode);
        Assert.Contains("no-such-policy", ex.Status.Detail);
    }

    [Fact]
    public async Task MissingPromptFileIsNotFound()
    {
        var request = Request("ppo-no-prompts");
        request.PromptFiles.Clear();
        request.PromptFiles.Add("absent.jsonl");
        using var call = Client.Train(request, deadline: Deadline());
        var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.ReadAllAsync().ToListAsync().AsTask());
        Assert.Equal(StatusCode.NotFound, ex.StatusCode);
        Assert.Contains("absent.jsonl", ex.Status.Detail);
    }
}
