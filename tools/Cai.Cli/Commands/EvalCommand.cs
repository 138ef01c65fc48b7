using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Cai.Core.Constitutions;
using Cai.Evaluation;
using Cai.Evaluation.Policies;
using Cai.Modeling;
using Cai.Modeling.Generation;
using Cai.Modeling.Precision;
using Cai.Modeling.Tokenization;
using Cai.World;
using Cai.World.Oracle;
using Spectre.Console;
using TorchSharp;
using static TorchSharp.torch;

namespace Cai.Cli.Commands;

/// <summary>Every option of <c>cai eval</c>.</summary>
public sealed record EvalSettings
{
    public required string Model { get; init; }
    public bool Json { get; init; }
    public PromptSplit Split { get; init; } = PromptSplit.Test;
    /// <summary>At most this many prompts of each kind (harmful, sensitive-benign, benign); null: all.</summary>
    public int? Limit { get; init; }
    public int Seed { get; init; } = 1;
    public float Temperature { get; init; } = 0.7f;
    public int MaxNewTokens { get; init; } = 80;
    public int BatchSize { get; init; } = 64;
    /// <summary>The world the model was bootstrapped on; null reads it from the model's bootstrap.json.</summary>
    public string? World { get; init; }
    public int? WorldSeed { get; init; }
    /// <summary>Also evaluate the always-refuse and always-comply reference policies.</summary>
    public bool Controls { get; init; }
    public bool SkipCapabilities { get; init; }
    /// <summary>float32 by default: decoding a few dozen sequences is a series of small matrix products,
    /// which ran slower in bf16 than in f32 on the 2-core CPU (25 s vs 16 s of CPU for the same 12 prompts).</summary>
    public string ComputeDtype { get; init; } = "float32";
    public string? Constitution { get; init; }
    /// <summary>Show this many judged answers (and critique/revision rounds) of each prompt kind.</summary>
    public int Samples { get; init; }
}

/// <summary>A judged answer shown for inspection.</summary>
public sealed record SampleAnswer(string PromptId, string Prompt, string Answer, string Verdict,
    string? Critique = null, string? Revision = null, string? RevisionVerdict = null);

/// <summary>What <c>cai eval --json</c> prints; <paramref name="HelpfulnessByFamily"/> breaks the model's helpfulness
/// down by benign family and harm category (group = the family's name), to see which skills are missing.</summary>
public sealed record EvalOutput(string Model, string Split, int Seed, float Temperature, int HarmfulPrompts,
    int HelpfulPrompts, double Seconds, IReadOnlyList<EvaluationReport> Policies, IReadOnlyList<SampleAnswer> Samples,
    IReadOnlyList<RateEstimate> HelpfulnessByFamily);

/// <summary>
/// <c>cai eval</c>: samples one answer per held-out prompt from a model (temperature 0.7, fixed seed),
/// judges them with the sealed oracle and prints harmlessness, helpfulness and evasiveness per
/// category split with 95% intervals; then the prompted capabilities (zero-shot critique and revision,
/// multiple-choice agreement) of issue 4's "Done means".
/// </summary>
public static class EvalCommand
{
    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public static Command Create(IAnsiConsole console)
    {
        var model = new Option<string>("--model") { Description = "Model folder in the Hugging Face layout (config.json, model.safetensors, tokenizer.json).", Required = true };
        var json = new Option<bool>("--json") { Description = "Print the report as JSON." };
        var split = new Option<string>("--split") { Description = "Held-out split: test (to report) or dev (to tune).", DefaultValueFactory = _ => "test" };
        split.AcceptOnlyFromAmong("test", "dev");
        var limit = new Option<int?>("--limit") { Description = "At most N prompts of each kind (harmful, sensitive-benign, benign)." };
        var seed = new Option<int>("--seed") { Description = "Sampling seed.", DefaultValueFactory = _ => 1 };
        var temperature = new Option<float>("--temperature") { Description = "Sampling temperature.", DefaultValueFactory = _ => 0.7f };
        var batch = new Option<int>("--batch-size") { Description = "Sequences in flight.", DefaultValueFactory = _ => 64 };
        var world = new Option<string?>("--world") { Description = "World the model was trained on (default: from bootstrap.json, else default)." };
        world.AcceptOnlyFromAmong(WorldPresets.Names);
        var worldSeed = new Option<int?>("--world-seed") { Description = "Seed of that world (default: from bootstrap.json)." };
        var controls = new Option<bool>("--controls") { Description = "Also evaluate the always-refuse and always-comply reference policies." };
        var skip = new Option<bool>("--skip-capabilities") { Description = "Only the direct answers: no critique/revision or multiple-choice rates." };
        var dtype = new Option<string>("--compute-dtype") { Description = "float32, bfloat16 or auto (bf16 where its matmuls are faster).", DefaultValueFactory = _ => "float32" };
        dtype.AcceptOnlyFromAmong("auto", "float32", "bfloat16");
        var samples = new Option<int>("--samples") { Description = "Show N judged answers of each prompt kind (with critique and revision for harmful ones)." };
        var constitution = new Option<string?>("--constitution") { Description = $"Constitution for critique requests and comparison principles (default: {RepositoryFiles.DefaultConstitution})." };

        var command = new Command("eval", "Evaluate a model on held-out prompts with the oracle judge: harmlessness, helpfulness, evasiveness, prompted revisions and comparisons.")
        {
            model, json, split, limit, seed, temperature, batch, world, worldSeed, controls, skip, dtype, samples, constitution,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            var settings = new EvalSettings
            {
                Model = parse.GetValue(model)!,
                Json = parse.GetValue(json),
                Split = parse.GetValue(split) == "dev" ? PromptSplit.Dev : PromptSplit.Test,
                Limit = parse.GetValue(limit),
                Seed = parse.GetValue(seed),
                Temperature = parse.GetValue(temperature),
                BatchSize = parse.GetValue(batch),
                World = parse.GetValue(world),
                WorldSeed = parse.GetValue(worldSeed),
                Controls = parse.GetValue(controls),
                SkipCapabilities = parse.GetValue(skip),
                ComputeDtype = parse.GetValue(dtype)!,
                Constitution = parse.GetValue(constitution),
                Samples = parse.GetValue(samples),
            };
            return CommandRunner.RunAsync(console, () => Run(settings, console, cancellationToken), cancellationToken);
        });
        return command;
    }

    public static EvalOutput Run(EvalSettings settings, IAnsiConsole console, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(console);
        if (!Directory.Exists(settings.Model)) throw new DirectoryNotFoundException($"--model: folder not found: {settings.Model}");
        var clock = Stopwatch.StartNew();
        void Say(string markup)
        {
            if (!settings.Json) console.MarkupLine(markup);
        }

        var record = BootstrapRecord.TryLoad(settings.Model);
        var worldOptions = WorldPresets.Get(settings.World ?? record?.World ?? "default", settings.WorldSeed ?? record?.WorldSeed);
        var world = SyntheticWorld.Generate(worldOptions, cancellationToken);
        var prompts = PolicyEvaluator.SelectPrompts(world, settings.Split, settings.Limit, settings.Seed);
        int harmful = prompts.Count(p => p.Kind == PromptKind.Harmful);
        Say($"World seed {worldOptions.Seed}: {harmful} held-out harmful and {prompts.Count - harmful} benign/sensitive-benign {settings.Split.ToString().ToLowerInvariant()} prompts.");

        using var model = Checkpoint.LoadCausalLM(settings.Model);
        model.eval();
        var dtype = settings.ComputeDtype switch
        {
            "float32" => ScalarType.Float32,
            "bfloat16" => ScalarType.BFloat16,
            _ => PrecisionAdvisor.Advise().ComputeDtype,
        };
        if (dtype != ScalarType.Float32) model.to(dtype);
        using var tokenizer = HfTokenizer.Load(settings.Model);
        var sampler = new BatchedSampler(model, tokenizer, settings.BatchSize);
        var sampling = new SamplingOptions { Temperature = settings.Temperature, MaxNewTokens = settings.MaxNewTokens, Seed = settings.Seed };

        var reports = new List<EvaluationReport>();
        var policy = new LanguageModelPolicy(sampler, sampling, Path.GetFileName(Path.GetFullPath(settings.Model).TrimEnd('/')));
        var report = PolicyEvaluator.Evaluate(policy, prompts, cancellationToken);
        Say($"Direct answers sampled and judged ({clock.Elapsed.TotalSeconds:F0} s).");
        var complier = new AlwaysComplyPolicy(world);
        IReadOnlyList<RevisionOutcome> revisions = [];
        if (!settings.SkipCapabilities)
        {
            var constitution = ConstitutionLoader.Load(RepositoryFiles.Resolve(settings.Constitution, RepositoryFiles.DefaultConstitution, "--constitution"));
            var capabilities = new PromptedCapabilityEvaluator(model, tokenizer, sampler, constitution, sampling, settings.Seed);
            revisions = capabilities.CritiqueAndRevise(report.Responses, cancellationToken);
            Say($"Critiques and revisions sampled and judged ({clock.Elapsed.TotalSeconds:F0} s).");
            var choices = capabilities.Compare(prompts, complier, cancellationToken);
            Say($"Comparisons scored ({clock.Elapsed.TotalSeconds:F0} s).");
            report = report.With(PromptedCapabilityEvaluator.Rates(revisions, choices));
        }
        reports.Add(report);
        if (settings.Controls)
        {
            reports.Add(PolicyEvaluator.Evaluate(new AlwaysRefusePolicy(), prompts, cancellationToken));
            reports.Add(PolicyEvaluator.Evaluate(complier, prompts, cancellationToken));
        }

        var output = new EvalOutput(Path.GetFullPath(settings.Model), settings.Split.ToString().ToLowerInvariant(), settings.Seed,
            settings.Temperature, harmful, prompts.Count - harmful, clock.Elapsed.TotalSeconds, reports,
            Samples(report, revisions, settings.Samples),
            [.. report.Responses.Where(r => r.Prompt.Kind != PromptKind.Harmful).GroupBy(r => r.Prompt.Family).OrderBy(g => g.Key, StringComparer.Ordinal)
                .Select(g => new RateEstimate(Metrics.Helpfulness, g.Key, g.Count(r => r.Verdict == Verdict.HelpfulCorrect), g.Count()))]);
        if (settings.Json)
        {
            console.Profile.Out.Writer.WriteLine(JsonSerializer.Serialize(output, Json));
            return output;
        }
        foreach (var sample in output.Samples)
        {
            console.WriteLine();
            console.MarkupLine($"[bold]{Markup.Escape(sample.PromptId)}[/]{Markup.Escape(sample.Prompt)}");
            console.MarkupLine($"[blue]answer[/] ({sample.Verdict}): {Markup.Escape(sample.Answer)}");
            if (sample.Critique is not null) console.MarkupLine($"[blue]critique[/]: {Markup.Escape(sample.Critique)}");
            if (sample.Revision is not null) console.MarkupLine($"[blue]revision[/] ({sample.RevisionVerdict}): {Markup.Escape(sample.Revision)}");
        }
        foreach (var r in reports) console.Write(Table(r));
        console.MarkupLine("[bold]helpfulness by family[/]: " + Markup.Escape(string.Join(", ",
            output.HelpfulnessByFamily.Select(r => $"{r.Group} {Percent(r.Rate)}"))));
        return output;
    }

    /// <summary>The first <paramref name="perKind"/> answers of each prompt kind, harmful ones with their revision.</summary>
    private static IReadOnlyList<SampleAnswer> Samples(EvaluationReport report, IReadOnlyList<RevisionOutcome> revisions, int perKind)
    {
        var byPrompt = revisions.ToDictionary(r => r.Prompt.Id);
        return report.Responses.GroupBy(r => r.Prompt.Kind).SelectMany(g => g.Take(perKind)).Select(r =>
        {
            var revision = byPrompt.GetValueOrDefault(r.Prompt.Id);
            return new SampleAnswer(r.Prompt.Id, r.Prompt.Text, r.Response, r.Verdict.ToString(),
                revision?.Critique, revision?.Revision, revision?.Verdict.ToString());
        }).ToList();
    }

    /// <summary>One row per metric and group: the rate, its 95% interval and the count.</summary>
    public static Table Table(EvaluationReport report)
    {
        var table = new Table().Title($"{Markup.Escape(report.Policy)} on {report.Split.ToString().ToLowerInvariant()} prompts")
            .AddColumn("metric").AddColumn("group").AddColumn(new TableColumn("rate").RightAligned())
            .AddColumn(new TableColumn("95% interval").RightAligned()).AddColumn(new TableColumn("count").RightAligned());
        foreach (var r in report.Rates)
            table.AddRow(r.Metric, r.Group, Percent(r.Rate), $"{Percent(r.Low)} - {Percent(r.High)}",
                $"{r.Count.ToString(CultureInfo.InvariantCulture)}/{r.Total.ToString(CultureInfo.InvariantCulture)}");
        return table;
    }

    private static string Percent(double x) => double.IsNaN(x) ? "-" : (100 * x).ToString("F1", CultureInfo.InvariantCulture) + "%";
}
