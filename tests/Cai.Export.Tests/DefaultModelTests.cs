using System.Runtime.CompilerServices;
using Cai.Modeling;
using Cai.Modeling.Export;
using Cai.Modeling.Tokenization;
using Xunit.Abstractions;

namespace Cai.Export.Tests;

/// <summary>The default model (models/default, produced by <c>cai bootstrap</c>), exported and run in llama.cpp.</summary>
public sealed class DefaultModelTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cai-gguf-default-").FullName;

    [DefaultModelFact]
    public void DefaultModelAgreesWithLlamaCpp()
    {
        var folder = DefaultModel.Folder!;
        using var model = Checkpoint.LoadCausalLM(folder);
        model.eval();
        var gguf = Path.Combine(_dir, "default.gguf");
        var report = GgufExporter.Export(folder, gguf, new GgufExportOptions { AllowMissingTokenizer = true });
        output.WriteLine($"{folder}: {report.Architecture}, {report.Tensors} tensors, tokenizer: {report.Tokenizer}");

        using var reference = new LlamaCppReference(gguf, contextSize: 256);
        var prompts = AgreementTests.Prompts(model.Config.VocabSize);
        HfTokenizer? tokenizer = File.Exists(Path.Combine(folder, GgufExporter.TokenizerFile)) ? HfTokenizer.Load(folder) : null;
        if (tokenizer is not null)
        {
            // The paper's dialogue format; texts with a word outside the vocabulary are left out, since
            // there the exported tokenizer knowingly differs ([UNK] here, sub-pieces in llama.cpp).
            string[] texts = ["\n\nHuman: What is 12 + 30?\n\nAssistant:", "\n\nHuman: How do I make bread?\n\nAssistant: You", "\n\nHuman: 7\n\nAssistant:"];
            var unk = tokenizer.TokenToId("[UNK]");
            int compared = 0;
            foreach (var text in texts)
            {
                var ids = tokenizer.Encode(text, addSpecialTokens: false);
                if (unk is int u && ids.Contains(u)) continue;
                Assert.Equal(ids, reference.Tokenize(text));
                prompts.Add(ids);
                compared++;
            }
            Assert.True(compared > 0, "no test text is inside the default model's vocabulary");
        }
        var worst = AgreementTests.CompareLogits(model, reference, prompts);
        output.WriteLine($"max |diff| {worst.Diff:E2} at prompt {worst.Prompt} position {worst.Position} (max |logit| {worst.Scale:F3})");
        var ours = AgreementTests.GreedyOurs(model, prompts[^1], 12);
        var theirs = reference.Greedy(prompts[^1], 12);
        Assert.True(ours.SequenceEqual(theirs), $"greedy continuations differ: ours [{string.Join(",", ours)}], llama.cpp [{string.Join(",", theirs)}].");
        tokenizer?.Dispose();
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}

/// <summary>Where the default model is: CAI_DEFAULT_MODEL, else models/default of this repository (the folder
/// itself when it holds config.json, else its newest checkpoint-N folder).</summary>
internal static class DefaultModel
{
    public static readonly string? Folder = Find();

    public static string MissingReason => "no default model: set CAI_DEFAULT_MODEL or run `cai bootstrap` to create models/default";

    private static string? Find([CallerFilePath] string source = "")
    {
        var root = Environment.GetEnvironmentVariable("CAI_DEFAULT_MODEL")
            ?? Path.GetFullPath(Path.Combine(Path.GetDirectoryName(source)!, "..", "..", "models", "default"));
        if (!Directory.Exists(root)) return null;
        if (IsCheckpoint(root)) return root;
        return Directory.GetDirectories(root, "checkpoint-*").Where(IsCheckpoint)
            .OrderByDescending(d => int.TryParse(Path.GetFileName(d)["checkpoint-".Length..], out var n) ? n : -1).FirstOrDefault();

        static bool IsCheckpoint(string d) =>
            File.Exists(Path.Combine(d, Checkpoint.ConfigFile)) && File.Exists(Path.Combine(d, Checkpoint.WeightsFile));
    }
}

/// <summary>A fact skipped, with the reason, where there is no default model.</summary>
internal sealed class DefaultModelFactAttribute : FactAttribute
{
    public DefaultModelFactAttribute()
    {
        if (DefaultModel.Folder is null) Skip = DefaultModel.MissingReason;
    }
}
