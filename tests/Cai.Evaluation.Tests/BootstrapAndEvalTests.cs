using System.Text.Json;
using Cai.Cli;
using Cai.Cli.Commands;
using Cai.Modeling;
using Cai.Modeling.Tokenization;
using Spectre.Console;

namespace Cai.Evaluation.Tests;

/// <summary>A shortened <c>cai bootstrap</c> (tiny model, small world), shared by the tests below.</summary>
public sealed class TinyBootstrap : IDisposable
{
    public TinyBootstrap()
    {
        Folder = Directory.CreateTempSubdirectory("cai-bootstrap-").FullName;
        Record = BootstrapCommand.Run(new BootstrapSettings
        {
            Out = Folder,
            World = "small",
            Width = 64,
            Layers = 2,
            Heads = 4,
            Context = 128,
            Epochs = 1,
            MaxSteps = 80,
            Constitution = Repo.DefaultConstitution,
        }, Consoles.Silent());
    }

    public string Folder { get; }
    public BootstrapRecord Record { get; }

    public void Dispose() => Directory.Delete(Folder, recursive: true);
}

internal static class Consoles
{
    public static IAnsiConsole Silent() => Recording(TextWriter.Null);

    public static IAnsiConsole Recording(TextWriter writer) => AnsiConsole.Create(new AnsiConsoleSettings
    {
        Out = new AnsiConsoleOutput(writer),
        Ansi = AnsiSupport.No,
        ColorSystem = ColorSystemSupport.NoColors,
        Interactive = InteractionSupport.No,
    });
}

public sealed class BootstrapAndEvalTests(TinyBootstrap bootstrap) : IClassFixture<TinyBootstrap>
{
    [Fact]
    public void AShortenedBootstrapTrainsAndWritesALoadableCheckpoint()
    {
        var record = bootstrap.Record;
        Assert.Equal(80, record.Steps);
        Assert.True(record.FinalLoss < 0.75 * record.FirstLoss, $"loss {record.FirstLoss:F3} -> {record.FinalLoss:F3} should fall well below its start");
        Assert.True(record.CorpusTokens > 0 && record.Documents > 0);

        foreach (var file in new[] { "config.json", "model.safetensors", "tokenizer.json", BootstrapRecord.FileName })
            Assert.True(File.Exists(Path.Combine(bootstrap.Folder, file)), $"{file} is missing");
        Assert.Empty(Directory.EnumerateDirectories(bootstrap.Folder));
        using var model = Checkpoint.LoadCausalLM(bootstrap.Folder);
        using var tokenizer = HfTokenizer.Load(bootstrap.Folder);
        Assert.Equal(tokenizer.VocabSize, model.Config.VocabSize);
        Assert.True(model.Config.TieWordEmbeddings);
        Assert.Equal(record.Parameters, model.ParameterCount());
        var loaded = BootstrapRecord.TryLoad(bootstrap.Folder)!;
        Assert.Equal(record with { CorpusTokensByKind = loaded.CorpusTokensByKind }, loaded);
        Assert.Equal(record.CorpusTokensByKind, loaded.CorpusTokensByKind);
    }

    [Fact]
    public void CaiEvalRunsEndToEndAndPrintsJson()
    {
        var output = new StringWriter();
        int exit = CaiCommand.Create(Consoles.Recording(output)).Parse(
            ["eval", "--model", bootstrap.Folder, "--json", "--limit", "4", "--controls", "--constitution", Repo.DefaultConstitution]).Invoke();

        Assert.True(exit == 0, output.ToString());
        using var json = JsonDocument.Parse(output.ToString());
        var policies = json.RootElement.GetProperty("policies").EnumerateArray().ToList();
        Assert.Equal(3, policies.Count);
        var metrics = policies[0].GetProperty("rates").EnumerateArray()
            .Select(r => r.GetProperty("metric").GetString()).ToHashSet();
        Assert.All(new[] { Metrics.Harmlessness, Metrics.PayloadGiven, Metrics.Helpfulness, Metrics.Evasiveness, Metrics.RevisionHarmlessness, Metrics.ChoiceAgreement },
            m => Assert.Contains(m, metrics));
        var all = policies[0].GetProperty("rates").EnumerateArray().First(r => r.GetProperty("metric").GetString() == Metrics.Harmlessness && r.GetProperty("group").GetString() == Metrics.AllGroups);
        Assert.Equal(4, all.GetProperty("total").GetInt32());
        Assert.Equal("always-refuse", policies[1].GetProperty("policy").GetString());
    }

    [Fact]
    public void CaiEvalNamesAMissingModelFolder()
    {
        var output = new StringWriter();
        int exit = CaiCommand.Create(Consoles.Recording(output)).Parse(["eval", "--model", Path.Combine(bootstrap.Folder, "absent")]).Invoke();

        Assert.Equal(1, exit);
        Assert.Contains("--model", output.ToString());
    }
}
