using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using Cai.Core.Constitutions;
using Cai.Modeling;
using Cai.Modeling.Precision;
using Cai.Training;
using Cai.Training.Pretraining;
using Cai.World;
using Cai.World.Corpus;
using Cai.World.Tokenization;
using Spectre.Console;
using static TorchSharp.torch;

namespace Cai.Cli.Commands;

/// <summary>What <c>cai bootstrap</c> does, as settings (every option of the command).</summary>
public sealed record BootstrapSettings
{
    public string Out { get; init; } = "models/default";
    /// <summary>Seed of the model's initialisation and of the data order.</summary>
    public int Seed { get; init; } = 1;
    public string World { get; init; } = "default";
    /// <summary>Seed of the world (null: the world's own default seed).</summary>
    public int? WorldSeed { get; init; }
    public int Epochs { get; init; } = 2;
    public int? MaxSteps { get; init; }
    public int Width { get; init; } = 256;
    public int Layers { get; init; } = 6;
    public int Heads { get; init; } = 8;
    public int Context { get; init; } = 512;
    /// <summary>Sequences per optimizer step: 4 x 512 tokens gives twice the updates of 8 at the same
    /// throughput on a 2-core CPU, which the small token budget needs.</summary>
    public int BatchSize { get; init; } = 4;
    public double LearningRate { get; init; } = 2e-3;
    /// <summary>"auto" (bf16 where it is measurably faster), "float32" or "bfloat16".</summary>
    public string ComputeDtype { get; init; } = "auto";
    /// <summary>"bfloat16" halves the checkpoint (the default model is committed, at most 10 MB) or "float32".</summary>
    public string StoreDtype { get; init; } = "bfloat16";
    public string? Constitution { get; init; }
}

/// <summary>The record <c>cai bootstrap</c> writes beside the model as <c>bootstrap.json</c>.</summary>
/// <param name="FirstLoss">Loss of the first step this call trained (after a resume, the step after the checkpoint).</param>
/// <param name="TokensPerSecond">Mean training throughput of this call.</param>
public sealed record BootstrapRecord(
    int Seed, string World, int WorldSeed, int Steps, int Epochs, double FirstLoss, double FinalLoss,
    double TokensPerSecond, double TrainingSeconds, string ComputeDtype, long Parameters,
    int Documents, long CorpusTokens, int VocabularySize, int LongestDocumentTokens,
    IReadOnlyDictionary<string, long> CorpusTokensByKind, int PackedSequences)
{
    public const string FileName = "bootstrap.json";

    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static BootstrapRecord? TryLoad(string modelDirectory)
    {
        var path = Path.Combine(modelDirectory, FileName);
        if (!File.Exists(path)) return null;
        try
        {
            return JsonSerializer.Deserialize<BootstrapRecord>(File.ReadAllText(path), Json)
                ?? throw new InvalidDataException($"{path}: empty.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a bootstrap record: {e.Message}", e);
        }
    }
}

/// <summary>
/// <c>cai bootstrap</c>: builds the embedded default's helpful-only base model (issue 4, item 5). It
/// generates the synthetic world, its pretraining corpus and tokenizer, pretrains a small Llama model
/// on the corpus from a seed, and writes it in the Hugging Face layout (config.json,
/// model.safetensors, tokenizer.json) with bootstrap.json (seed, steps, losses, corpus figures).
/// </summary>
public static class BootstrapCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var defaults = new BootstrapSettings();
        var outOption = new Option<string>("--out") { Description = "Folder the model is written to.", DefaultValueFactory = _ => defaults.Out };
        var seed = new Option<int>("--seed") { Description = "Seed of initialisation and data order.", DefaultValueFactory = _ => defaults.Seed };
        var world = new Option<string>("--world") { Description = "World size: default or small.", DefaultValueFactory = _ => defaults.World };
        world.AcceptOnlyFromAmong(WorldPresets.Names);
        var worldSeed = new Option<int?>("--world-seed") { Description = "Seed of the synthetic world (default: the world's own)." };
        var epochs = new Option<int>("--epochs") { Description = "Passes over the packed corpus.", DefaultValueFactory = _ => defaults.Epochs };
        var maxSteps = new Option<int?>("--max-steps") { Description = "Stop after about this many optimizer steps (each epoch uses the first sequences of the shuffled corpus)." };
        var width = new Option<int>("--width") { Description = "Hidden size.", DefaultValueFactory = _ => defaults.Width };
        var layers = new Option<int>("--layers") { Description = "Decoder layers.", DefaultValueFactory = _ => defaults.Layers };
        var heads = new Option<int>("--heads") { Description = "Attention heads.", DefaultValueFactory = _ => defaults.Heads };
        var context = new Option<int>("--context") { Description = "Context length (max_position_embeddings and training sequence length).", DefaultValueFactory = _ => defaults.Context };
        var batch = new Option<int>("--batch-size") { Description = "Sequences per optimizer step.", DefaultValueFactory = _ => defaults.BatchSize };
        var lr = new Option<double>("--learning-rate") { Description = "Peak AdamW learning rate.", DefaultValueFactory = _ => defaults.LearningRate };
        var dtype = new Option<string>("--compute-dtype") { Description = "auto, float32 or bfloat16.", DefaultValueFactory = _ => defaults.ComputeDtype };
        dtype.AcceptOnlyFromAmong("auto", "float32", "bfloat16");
        var store = new Option<string>("--store-dtype") { Description = "Dtype of model.safetensors: bfloat16 or float32.", DefaultValueFactory = _ => defaults.StoreDtype };
        store.AcceptOnlyFromAmong("float32", "bfloat16");
        var constitution = new Option<string?>("--constitution") { Description = $"Constitution for the corpus's demonstrations (default: {RepositoryFiles.DefaultConstitution})." };

        var command = new Command("bootstrap", "Generate the synthetic world and its corpus, pretrain the helpful-only base model, write it in the Hugging Face layout.")
        {
            outOption, seed, world, worldSeed, epochs, maxSteps, width, layers, heads, context, batch, lr, dtype, store, constitution,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            var settings = new BootstrapSettings
            {
                Out = parse.GetValue(outOption)!,
                Seed = parse.GetValue(seed),
                World = parse.GetValue(world)!,
                WorldSeed = parse.GetValue(worldSeed),
                Epochs = parse.GetValue(epochs),
                MaxSteps = parse.GetValue(maxSteps),
                Width = parse.GetValue(width),
                Layers = parse.GetValue(layers),
                Heads = parse.GetValue(heads),
                Context = parse.GetValue(context),
                BatchSize = parse.GetValue(batch),
                LearningRate = parse.GetValue(lr),
                ComputeDtype = parse.GetValue(dtype)!,
                StoreDtype = parse.GetValue(store)!,
                Constitution = parse.GetValue(constitution),
            };
            return CommandRunner.RunAsync(console, () => Run(settings, console, cancellationToken), cancellationToken);
        });
        return command;
    }

    /// <summary>Runs the whole bootstrap; returns what it wrote into bootstrap.json.</summary>
    public static BootstrapRecord Run(BootstrapSettings settings, IAnsiConsole console, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(console);
        if (settings.Width % settings.Heads != 0)
            throw new ArgumentException($"--width ({settings.Width}) must be divisible by --heads ({settings.Heads}).", nameof(settings));
        var clock = Stopwatch.StartNew();
        var worldOptions = WorldPresets.Get(settings.World, settings.WorldSeed);
        var constitution = ConstitutionLoader.Load(RepositoryFiles.Resolve(settings.Constitution, RepositoryFiles.DefaultConstitution, "--constitution"));

        // 1. The world, its corpus and its tokenizer.
        console.MarkupLine($"Generating the [bold]{settings.World}[/] world (seed {worldOptions.Seed}) and its corpus...");
        var world = SyntheticWorld.Generate(worldOptions, cancellationToken);
        var corpus = CorpusBuilder.Build(world, constitution, cancellationToken);
        var tokenizer = WorldTokenizer.Build(world, corpus, constitution, cancellationToken);
        var documents = corpus.Documents.Select(d => tokenizer.Encode(d.Text)).ToList();
        long corpusTokens = documents.Sum(d => (long)d.Length);
        var byKind = corpus.Documents.Zip(documents).GroupBy(x => x.First.Kind.ToString())
            .ToDictionary(g => g.Key, g => g.Sum(x => (long)x.Second.Length));
        console.MarkupLine($"  {corpus.Documents.Count:N0} documents, {corpusTokens:N0} tokens, vocabulary {tokenizer.VocabularySize:N0} ({clock.Elapsed.TotalSeconds:F0} s)");

        // 2. The model: a small Llama with tied embeddings over the world's vocabulary.
        var config = new LlamaConfig
        {
            HiddenSize = settings.Width,
            IntermediateSize = 2 * settings.Width,
            NumHiddenLayers = settings.Layers,
            NumAttentionHeads = settings.Heads,
            NumKeyValueHeads = settings.Heads,
            VocabSize = tokenizer.VocabularySize,
            MaxPositionEmbeddings = settings.Context,
            TieWordEmbeddings = true,
            BosTokenId = tokenizer.BosId,
            EosTokenIds = [tokenizer.EosId],
            PadTokenId = tokenizer.PadId,
        }.Validate();
        using var model = new LlamaForCausalLM(config, seed: settings.Seed);
        var computeDtype = settings.ComputeDtype switch
        {
            "float32" => ScalarType.Float32,
            "bfloat16" => ScalarType.BFloat16,
            _ => PrecisionAdvisor.Advise().ComputeDtype,
        };
        var options = new PretrainingOptions
        {
            Epochs = settings.Epochs,
            MaxSteps = settings.MaxSteps,
            BatchSize = settings.BatchSize,
            ContextLength = settings.Context,
            LearningRate = settings.LearningRate,
            ComputeDtype = computeDtype,
            Seed = (ulong)settings.Seed,
        };
        var trainer = new CausalLmPretrainer(model, options);
        int sequences = CausalLmPretrainer.Pack(documents, tokenizer.BosId, tokenizer.EosId, settings.Context, options.Seed, cancellationToken).Count;
        int steps = CausalLmPretrainer.StepsFor(sequences, options);
        long tokensPerStep = (long)settings.BatchSize * settings.Context;
        console.MarkupLine($"Model: {model.ParameterCount():N0} parameters ({settings.Layers} layers, width {settings.Width}, {settings.Heads} heads, context {settings.Context}), compute {computeDtype}.");
        console.MarkupLine($"Training: {steps:N0} steps x {tokensPerStep:N0} tokens = {steps * tokensPerStep:N0} tokens ({sequences:N0} packed sequences, {settings.Epochs} epoch(s)).");

        // 3. Pretraining, with a progress bar (or a line every few steps when the output is not a terminal).
        Directory.CreateDirectory(settings.Out);
        double firstLoss = double.NaN;
        int firstStep = 0;
        TrainingResult? result = null;
        void Observe(TrainingProgress p, Action<string> show)
        {
            // The first step of this call: step 1, or the step after the checkpoint a resumed run continues from.
            if (double.IsNaN(firstLoss)) (firstLoss, firstStep) = (p.Loss, p.Step);
            show($"step {p.Step}/{p.TotalSteps} loss {p.Loss:F3} {p.TokensPerSecond:N0} tok/s");
            if (p.Step == firstStep + 4)
                console.MarkupLine($"  estimate at {p.TokensPerSecond:N0} tok/s: {TimeSpan.FromSeconds((steps - p.Step) * tokensPerStep / Math.Max(p.TokensPerSecond, 1)):hh\\:mm\\:ss} for the remaining {steps - p.Step:N0} steps");
        }
        if (console.Profile.Capabilities.Interactive)
        {
            console.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask("pretraining", maxValue: steps);
                    result = trainer.Train(documents, tokenizer.BosId, tokenizer.EosId, settings.Out,
                        new CallbackProgress<TrainingProgress>(p => Observe(p, text => { task.Description = Markup.Escape(text); task.Value = p.Step; })),
                        cancellationToken);
                });
        }
        else
        {
            int every = Math.Max(1, steps / 50);
            result = trainer.Train(documents, tokenizer.BosId, tokenizer.EosId, settings.Out,
                new CallbackProgress<TrainingProgress>(p => Observe(p, text =>
                {
                    if (p.Step % every == 0 || p.Step == p.TotalSteps || p.Step == 1) console.WriteLine($"  {text} ({clock.Elapsed:hh\\:mm\\:ss})");
                })),
                cancellationToken);
        }

        // 4. The final model in the Hugging Face layout, without the resumable checkpoints.
        var store = settings.StoreDtype == "float32" ? ScalarType.Float32 : ScalarType.BFloat16;
        Checkpoint.Save(model, settings.Out, store);
        tokenizer.Save(Path.Combine(settings.Out, CorpusWriter.TokenizerFileName));
        foreach (var dir in Directory.EnumerateDirectories(settings.Out, TrainingState.CheckpointPrefix + "*"))
            Directory.Delete(dir, recursive: true);
        var record = new BootstrapRecord(settings.Seed, settings.World, worldOptions.Seed, result!.Steps, settings.Epochs,
            firstLoss, result.FinalLoss, result.TokensPerSecond, result.Elapsed.TotalSeconds, computeDtype.ToString(),
            model.ParameterCount(), corpus.Documents.Count, corpusTokens, tokenizer.VocabularySize,
            documents.Max(d => d.Length), byKind, sequences);
        File.WriteAllText(Path.Combine(settings.Out, BootstrapRecord.FileName), JsonSerializer.Serialize(record, BootstrapRecord.Json) + "\n");
        console.MarkupLine($"[green]Wrote[/] {Markup.Escape(Path.GetFullPath(settings.Out))}: loss {firstLoss:F3} -> {result.FinalLoss:F3}, {result.TokensPerSecond:N0} tok/s, {clock.Elapsed:hh\\:mm\\:ss} in all.");
        return record;
    }
}
