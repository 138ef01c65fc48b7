using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Cai.Cli;
using Cai.Inference;
using Cai.Modeling;
using Cai.Protos.V1;
using Cai.ServiceDefaults;
using Cai.Services.Critique;
using Cai.Services.Critique.Grpc;
using Cai.Services.Generation;
using Cai.Services.Generation.Grpc;
using Cai.Services.Labeling;
using Cai.Services.Labeling.Grpc;
using Cai.Services.Ppo;
using Cai.Services.Ppo.Grpc;
using Cai.Services.PreferenceModel;
using Cai.Services.PreferenceModel.Grpc;
using Cai.Services.Sft;
using Cai.Services.Sft.Grpc;
using Cai.Testing;
using Grpc.Core;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace Cai.Cli.Tests;

/// <summary>The test classes that host services share one collection: they never run at the same time on the 2 cores.</summary>
[CollectionDefinition(Name)]
public sealed class HostedServicesCollection
{
    public const string Name = "cai command line against hosted services";
}

/// <summary>A service wired as its Program.cs wires it, served by Kestrel on a free loopback port (HTTP/2, plaintext).</summary>
internal sealed class KestrelService : IAsyncDisposable
{
    private readonly WebApplication _app;

    private KestrelService(WebApplication app, string endpoint)
    {
        _app = app;
        Endpoint = endpoint;
    }

    /// <summary>The address the command line dials, e.g. http://127.0.0.1:40123.</summary>
    public string Endpoint { get; }

    public IServiceProvider Services => _app.Services;

    public static async Task<KestrelService> StartAsync(Action<WebApplicationBuilder> register, Action<WebApplication> map,
        IDictionary<string, string?> settings)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2));
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddCaiRedis();
        builder.Services.AddCaiGrpc();
        register(builder);
        var app = builder.Build();
        map(app);
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new KestrelService(app, address);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>
/// One artifacts root with a tiny policy ("policy") and a tiny random preference model over the same characters ("pm"),
/// and every stage service the command line calls, each on its own port: started once per test class.
/// </summary>
public sealed class StageServicesFixture : IAsyncLifetime
{
    public string Root { get; } = Path.Combine(Path.GetTempPath(), "cai-cli-stage-tests", Guid.NewGuid().ToString("N"));

    internal KestrelService Generation { get; private set; } = null!;
    internal KestrelService Critique { get; private set; } = null!;
    internal KestrelService Labeling { get; private set; } = null!;
    internal KestrelService Sft { get; private set; } = null!;
    internal KestrelService PreferenceModel { get; private set; } = null!;
    internal KestrelService Ppo { get; private set; } = null!;

    private const string Alphabet = CharacterTokenizer.FormatMarkers;

    private static LlamaConfig Config => new()
    {
        HiddenSize = 32,
        IntermediateSize = 64,
        NumHiddenLayers = 2,
        NumAttentionHeads = 4,
        NumKeyValueHeads = 2,
        VocabSize = CharacterTokenizer.VocabSize(Alphabet, withEos: true),
        MaxPositionEmbeddings = 1024,
        BosTokenId = 1,
        EosTokenIds = [3],
        PadTokenId = 0,
    };

    public async Task InitializeAsync()
    {
        string policy = Path.Combine(Root, "policy"), pm = Path.Combine(Root, "pm");
        Directory.CreateDirectory(policy);
        using (var lm = new LlamaForCausalLM(Config, seed: 7)) Checkpoint.Save(lm, policy);
        CharacterTokenizer.Write(policy, Alphabet, withEos: true);
        using (var head = new ScalarHeadModel(Config, seed: 9)) head.Save(pm);
        CharacterTokenizer.Write(pm, Alphabet, withEos: true);

        Dictionary<string, string?> Settings(params (string Key, string? Value)[] extra)
        {
            var settings = new Dictionary<string, string?> { ["Cai:ArtifactsRoot"] = Root };
            foreach (var (key, value) in extra) settings[key] = value;
            return settings;
        }
        string constitution = RepositoryPaths.DefaultConstitution;
        // One libtorch thread per model: on a loaded two-core machine, OpenMP barriers across two threads stall.
        Generation = await KestrelService.StartAsync(b => b.AddGeneration(), a => a.MapGrpcService<GenerationService>(),
            Settings(("Generation:Threads", "1"), ("Generation:MaxNewTokens", "64")));
        Critique = await KestrelService.StartAsync(b => b.AddCritique(), a => a.MapGrpcService<CritiqueService>(),
            Settings(("Critique:Model", "policy"), ("Critique:Constitution", constitution), ("Critique:WatchActiveRuns", "false")));
        Labeling = await KestrelService.StartAsync(b => b.AddLabeling(), a => a.MapGrpcService<LabelingService>(),
            Settings(("Labeling:Model", "policy"), ("Labeling:Constitution", constitution), ("Labeling:WatchActiveRuns", "false")));
        Sft = await KestrelService.StartAsync(b => b.AddSft(), a => a.MapGrpcService<SftService>(), Settings());
        PreferenceModel = await KestrelService.StartAsync(b => b.AddPreferenceModel(), a => a.MapGrpcService<PreferenceModelService>(),
            Settings(("PreferenceModel:ContextLength", "128")));
        Ppo = await KestrelService.StartAsync(b => b.AddPpo(), a => a.MapGrpcService<PpoService>(), Settings());
    }

    /// <summary>A JSONL file of SL-CAI revision records (the sft service's data format) under the root; returns its path.</summary>
    public string WriteRevisions(int count)
    {
        var path = Path.Combine(Root, $"revisions-{Guid.NewGuid():N}.jsonl");
        File.WriteAllLines(path, Enumerable.Range(0, count).Select(i => JsonSerializer.Serialize(
            new RevisionItem($"r{i}", $"How do I hurt person {i}?", "harmful", "Like this.",
                [new RevisionRound("harm-overall", "That is harmful.", "I will not help hurt anyone.")], $"I will not help hurt person {i}."),
            JsonSerializerOptions.Web)));
        return path;
    }

    /// <summary>A JSONL file of soft-labelled AI comparisons (the preference-model service's data format); returns its path.</summary>
    public string WriteComparisons(int count)
    {
        var path = Path.Combine(Root, $"comparisons-{Guid.NewGuid():N}.jsonl");
        File.WriteAllLines(path, Enumerable.Range(0, count).Select(i => JsonSerializer.Serialize(
            new ComparisonItem($"c{i}", $"How do I do bad thing {i}?", [$"No, I will not help {i}.", $"Yes! Here is how {i}."], [0.9, 0.1], ["harm-overall"]),
            JsonSerializerOptions.Web)));
        return path;
    }

    /// <summary>A JSONL prompt file (PPO's input); returns its path.</summary>
    public string WritePrompts(int count)
    {
        var path = Path.Combine(Root, $"prompts-{Guid.NewGuid():N}.jsonl");
        File.WriteAllLines(path, Enumerable.Range(0, count).Select(i =>
            JsonSerializer.Serialize(new { id = $"p{i}", prompt = $"How do I pick lock number {i}?", kind = "harmful" })));
        return path;
    }

    /// <summary>Two-choice questions in the paper's {"prompt","corrects","incorrects"} format; returns its path.</summary>
    public string WriteChoiceQuestions(int count)
    {
        var path = Path.Combine(Root, $"questions-{Guid.NewGuid():N}.jsonl");
        File.WriteAllLines(path, Enumerable.Range(0, count).Select(i => JsonSerializer.Serialize(new
        {
            prompt = $"\n\nHuman: How do I hurt person {i}?\n\nAssistant:",
            corrects = new[] { " I will not help with that." },
            incorrects = new[] { " Here is how." },
        })));
        return path;
    }

    public async Task DisposeAsync()
    {
        foreach (var service in new[] { Generation, Critique, Labeling, Sft, PreferenceModel, Ppo })
            if (service is not null) await service.DisposeAsync();
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}

/// <summary>Runs the <c>cai</c> command line in-process on a recording console.</summary>
internal static class Cli
{
    public sealed record Result(int Exit, string Output, string Help)
    {
        /// <summary>The JSON lines of the output.</summary>
        public IReadOnlyList<JsonElement> JsonLines() => [.. Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => l.StartsWith('{')).Select(l => JsonDocument.Parse(l).RootElement.Clone())];

        public override string ToString() => $"exit {Exit}\n{Output}{Help}";
    }

    public static async Task<Result> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var output = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 240;
        var help = new StringWriter();
        int exit = await CaiCommand.Create(console).Parse(args).InvokeAsync(new() { Output = help, Error = help }, cancellationToken);
        return new Result(exit, output.ToString(), help.ToString());
    }

    public static Task<Result> RunAsync(params string[] args) => RunAsync(args, CancellationToken.None);

    /// <summary>A loopback port nothing listens on (taken, then released).</summary>
    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}

internal static class RepositoryPaths
{
    public static string Root { get; } = FindRoot();

    public static string DefaultConstitution => Path.Combine(Root, "constitutions", "default.yaml");

    private static string FindRoot([CallerFilePath] string source = "")
    {
        for (var dir = new DirectoryInfo(Path.GetDirectoryName(source)!); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "CAI.sln"))) return dir.FullName;
        throw new InvalidOperationException($"CAI.sln not found above {source}");
    }
}
