using System.CommandLine;
using Cai.Modeling.Export;
using Spectre.Console;

namespace Cai.Cli.Commands;

/// <summary>
/// <c>cai export gguf</c>: writes a checkpoint (the policy after SL-CAI or RL-CAI, or the bootstrapped
/// default model) as one GGUF file for llama.cpp, Ollama and LM Studio, tokenizer included.
/// </summary>
public static class ExportGgufCommand
{
    /// <summary>The <c>export</c> group with its <c>gguf</c> subcommand, for the root command.</summary>
    public static Command CreateExportGroup(IAnsiConsole console)
    {
        var export = new Command("export", "Export a model to formats other runtimes read.");
        export.Subcommands.Add(Create(console));
        return export;
    }

    /// <summary>The <c>gguf</c> subcommand.</summary>
    public static Command Create(IAnsiConsole console)
    {
        var model = new Option<string>("--model") { Description = "Checkpoint folder in the Hugging Face layout (config.json, model.safetensors, tokenizer.json).", Required = true };
        var output = new Option<string>("--out") { Description = "GGUF file to write.", Required = true };
        var dtype = new Option<string>("--dtype") { Description = "Weight matrices as f32, bf16 or f16 (norms and biases stay f32).", DefaultValueFactory = _ => "f32" };
        dtype.AcceptOnlyFromAmong("f32", "bf16", "f16");
        var name = new Option<string?>("--name") { Description = "general.name in the file (default: the model folder's name)." };
        var noTokenizer = new Option<bool>("--allow-missing-tokenizer") { Description = "Export a checkpoint without tokenizer.json; llama.cpp then works on token ids only." };

        var command = new Command("gguf", "Write a checkpoint as a GGUF file for llama.cpp and Ollama (see src/Cai.Modeling/Export/README.md).")
        {
            model, output, dtype, name, noTokenizer,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            var options = new GgufExportOptions
            {
                Dtype = parse.GetValue(dtype) switch { "bf16" => GgufDtype.BF16, "f16" => GgufDtype.F16, _ => GgufDtype.F32 },
                Name = parse.GetValue(name),
                AllowMissingTokenizer = parse.GetValue(noTokenizer),
            };
            var modelPath = parse.GetValue(model)!;
            var outPath = parse.GetValue(output)!;
            return CommandRunner.RunAsync(console, () =>
            {
                var report = GgufExporter.Export(modelPath, outPath, options, cancellationToken);
                console.MarkupLine($"Wrote [bold]{Markup.Escape(report.Path)}[/]: {report.Architecture}, {report.Tensors} tensors, {report.Bytes / 1048576.0:F1} MiB.");
                console.MarkupLine($"Tokenizer: {Markup.Escape(report.Tokenizer)}.");
                console.MarkupLine($"Run it: [grey]llama-cli -m {Markup.Escape(report.Path)}[/], or in Ollama with a Modelfile [grey]FROM {Markup.Escape(Path.GetFullPath(report.Path))}[/].");
                return report;
            }, cancellationToken);
        });
        return command;
    }
}
