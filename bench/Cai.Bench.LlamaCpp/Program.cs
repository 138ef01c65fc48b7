// The same model in this project and in llama.cpp (through LLamaSharp), side by side: prefill and
// greedy decode throughput at batch 1 and batch 32, the same thread count, prompt and lengths.
// Each model is exported with the project's GGUF exporter, so both run identical weights. Usage:
//   dotnet run -c Release --project bench/Cai.Bench.LlamaCpp -- [--configs tiny,100m,default] [--threads N]
//       [--dtype f32|bf16] [--batches 1,32] [--prompt N] [--new N]
// Ratios are ours / llama.cpp in tokens per second: above 1 means this project is faster.
using System.Diagnostics;
using Cai.Modeling;
using Cai.Modeling.Export;
using LLama;
using LLama.Common;
using LLama.Native;
using TorchSharp;
using static TorchSharp.torch;

var configNames = (Arg("--configs") ?? "tiny,100m").Split(',');
int threads = int.Parse(Arg("--threads") ?? "2");
var dtype = Arg("--dtype") ?? "f32";
if (dtype is not ("f32" or "bf16")) return Fail($"--dtype: f32 or bf16, got '{dtype}'");
var batches = (Arg("--batches") ?? "1,32").Split(',').Select(int.Parse).ToArray();
set_num_threads(threads);
NativeLibraryConfig.All.WithLogCallback((level, message) => { if (level == LLamaLogLevel.Error) Console.Error.Write(message); });

var configs = new Dictionary<string, (LlamaConfig Config, int Prompt, int New)>
{
    ["tiny"] = (new LlamaConfig { HiddenSize = 256, IntermediateSize = 688, NumHiddenLayers = 6, NumAttentionHeads = 8, NumKeyValueHeads = 8, VocabSize = 2048, MaxPositionEmbeddings = 512 }, 128, 32),
    // ~134M parameters: the size the issue measured llama.cpp at.
    ["100m"] = (new LlamaConfig { HiddenSize = 768, IntermediateSize = 2048, NumHiddenLayers = 12, NumAttentionHeads = 12, NumKeyValueHeads = 12, VocabSize = 32000, MaxPositionEmbeddings = 512 }, 64, 16),
};

Console.WriteLine($"threads {threads} (both), dtype {dtype}, {Environment.ProcessorCount} logical CPUs, load average {LoadAverage()}");
var rows = new List<string[]>();
var total = Stopwatch.StartNew();
var work = Directory.CreateTempSubdirectory("cai-bench-llamacpp-").FullName;
try
{
    foreach (var name in configNames)
    {
        string folder;
        int promptLength, newTokens;
        if (name == "default")
        {
            var root = Path.Combine(RepositoryRoot(), "models", "default");
            folder = File.Exists(Path.Combine(root, Checkpoint.ConfigFile)) ? root
                : Directory.Exists(root) ? Directory.GetDirectories(root, "checkpoint-*").Where(d => File.Exists(Path.Combine(d, Checkpoint.ConfigFile)))
                    .OrderByDescending(d => int.TryParse(Path.GetFileName(d)["checkpoint-".Length..], out var n) ? n : -1).FirstOrDefault() ?? ""
                : "";
            if (folder == "") { Console.WriteLine("default: no models/default checkpoint, skipped"); continue; }
            (promptLength, newTokens) = (128, 32);
        }
        else if (configs.TryGetValue(name, out var entry))
        {
            folder = Path.Combine(work, name);
            using var fresh = new LlamaForCausalLM(entry.Config, seed: 1);
            Checkpoint.Save(fresh, folder);
            (promptLength, newTokens) = (entry.Prompt, entry.New);
        }
        else return Fail($"--configs: unknown '{name}' (known: {string.Join(", ", configs.Keys)}, default)");
        promptLength = int.Parse(Arg("--prompt") ?? promptLength.ToString());
        newTokens = int.Parse(Arg("--new") ?? newTokens.ToString());

        using var model = Checkpoint.LoadCausalLM(folder);
        if (dtype == "bf16") model.to(ScalarType.BFloat16);
        model.eval();
        var config = model.Config;
        var gguf = Path.Combine(work, name + ".gguf");
        GgufExporter.Export(folder, gguf, new GgufExportOptions { AllowMissingTokenizer = true, Dtype = dtype == "bf16" ? GgufDtype.BF16 : GgufDtype.F32 });
        Console.WriteLine($"{name}: {model.ParameterCount() / 1e6:F1} M parameters, prompt {promptLength}, {newTokens} new tokens");

        int maxBatch = batches.Max();
        var parameters = new ModelParams(gguf)
        {
            ContextSize = (uint)(maxBatch * (promptLength + newTokens + 8)),
            BatchSize = (uint)(maxBatch * promptLength),
            SeqMax = (uint)maxBatch,
            // One KV stream per sequence: with a unified buffer every token attends over all rows'
            // cells (masked), which makes batch 32 cost 32 times the attention it needs.
            KVUnified = false,
            GpuLayerCount = 0,
            Threads = threads,
            BatchThreads = threads,
            TypeK = dtype == "bf16" ? GGMLType.GGML_TYPE_F16 : GGMLType.GGML_TYPE_F32,
            TypeV = dtype == "bf16" ? GGMLType.GGML_TYPE_F16 : GGMLType.GGML_TYPE_F32,
            FlashAttention = false,
        };
        using var weights = LLamaWeights.LoadFromFile(parameters);
        using var context = weights.CreateContext(parameters);

        foreach (var b in batches)
        {
            var prompts = Enumerable.Range(0, b).Select(r => Enumerable.Range(0, promptLength).Select(j => (r * 131 + j * 17 + 1) % config.VocabSize).ToArray()).ToArray();
            var ours = Ours(model, prompts, newTokens);
            var theirs = LlamaCpp(context, prompts, newTokens);
            double oursPrefill = b * promptLength / ours.Prefill, theirsPrefill = b * promptLength / theirs.Prefill;
            double oursDecode = b / ours.Step, theirsDecode = b / theirs.Step;
            rows.Add([name, $"prefill batch {b} tok/s", $"{oursPrefill:F0}", $"{theirsPrefill:F0}", $"{oursPrefill / theirsPrefill:F2}"]);
            rows.Add([name, $"decode batch {b} tok/s", $"{oursDecode:F0}", $"{theirsDecode:F0}", $"{oursDecode / theirsDecode:F2}"]);
            rows.Add([name, $"decode batch {b} median step ms", $"{ours.Step * 1e3:F2}", $"{theirs.Step * 1e3:F2}", $"{theirs.Step / ours.Step:F2}"]);
            // Printed as measured too, so a run stopped early still reports what it has.
            foreach (var r in rows.TakeLast(3)) Console.WriteLine($"  {string.Join(" | ", r)}");
            Console.WriteLine($"  batch {b} done ({total.Elapsed.TotalSeconds:F0} s, load average {LoadAverage()})");
        }
    }
}
finally
{
    try { Directory.Delete(work, recursive: true); } catch (IOException) { }
}

string[] header = ["config", "measure", "ours", "llama.cpp", "ours/llama.cpp"];
var widths = header.Select((h, i) => rows.Select(r => r[i].Length).Append(h.Length).Max()).ToArray();
Console.WriteLine(string.Join("  ", header.Select((h, i) => h.PadRight(widths[i]))));
foreach (var r in rows) Console.WriteLine(string.Join("  ", r.Select((c, i) => c.PadRight(widths[i]))));
Console.WriteLine($"(median step ratio: llama.cpp step / ours step; above 1 means this project is faster) total {total.Elapsed.TotalSeconds:F0} s, load average {LoadAverage()}");
return 0;

// This project: one prefill of all prompts into a KV cache, then greedy steps of one token per row.
static (double Prefill, double Step) Ours(LlamaForCausalLM model, int[][] prompts, int newTokens)
{
    using var inference = inference_mode();
    int b = prompts.Length, p = prompts[0].Length;
    var ids = tensor(prompts.SelectMany(r => r.Select(x => (long)x)).ToArray(), [b, p]);
    double prefill = double.MaxValue;
    var steps = new List<double>();
    // Twice: the first run warms up allocators and kernels; prefill is the faster run, steps the second run's.
    for (int run = 0; run < 2; run++)
    {
        steps.Clear();
        using var cache = new KvCache(model.Config.NumHiddenLayers, p + newTokens);
        var sw = Stopwatch.StartNew();
        Tensor next;
        using (var scope = NewDisposeScope())
        {
            next = model.Forward(ids, cache: cache, logitsToKeep: 1).Logits.argmax(-1);
            next.data<long>().ToArray();
            next.MoveToOuterDisposeScope();
        }
        prefill = Math.Min(prefill, sw.Elapsed.TotalSeconds);
        for (int s = 1; s < newTokens; s++)
        {
            sw.Restart();
            using var scope = NewDisposeScope();
            var logits = model.Forward(next, cache: cache, logitsToKeep: 1).Logits;
            var chosen = logits.argmax(-1);
            chosen.data<long>().ToArray();
            next.Dispose();
            next = chosen.MoveToOuterDisposeScope();
            steps.Add(sw.Elapsed.TotalSeconds);
        }
        next.Dispose();
    }
    return (prefill, Median(steps));
}

// llama.cpp: the prompts as one batch of sequences, then one token per sequence per llama_decode.
static (double Prefill, double Step) LlamaCpp(LLamaContext context, int[][] prompts, int newTokens)
{
    int b = prompts.Length, p = prompts[0].Length;
    double prefill = double.MaxValue;
    var steps = new List<double>();
    var batch = new LLamaBatch();
    for (int run = 0; run < 2; run++)
    {
        steps.Clear();
        context.NativeHandle.MemoryClear(true);
        batch.Clear();
        var sw = Stopwatch.StartNew();
        for (int r = 0; r < b; r++)
            for (int j = 0; j < p; j++) batch.Add((LLamaToken)prompts[r][j], j, (LLamaSeqId)r, j == p - 1);
        Check(context.NativeHandle.Decode(batch));
        var next = new int[b];
        for (int r = 0; r < b; r++) next[r] = ArgMax(context.NativeHandle.GetLogitsIth(r * p + p - 1));
        prefill = Math.Min(prefill, sw.Elapsed.TotalSeconds);
        for (int s = 1; s < newTokens; s++)
        {
            sw.Restart();
            batch.Clear();
            for (int r = 0; r < b; r++) batch.Add((LLamaToken)next[r], p + s - 1, (LLamaSeqId)r, true);
            Check(context.NativeHandle.Decode(batch));
            for (int r = 0; r < b; r++) next[r] = ArgMax(context.NativeHandle.GetLogitsIth(r));
            steps.Add(sw.Elapsed.TotalSeconds);
        }
    }
    return (prefill, Median(steps));

    static void Check(DecodeResult result)
    {
        if (result != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode returned {result}.");
    }
}

static int ArgMax(Span<float> v)
{
    int best = 0;
    for (int i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
    return best;
}

static double Median(List<double> values)
{
    if (values.Count == 0) return double.NaN;
    var sorted = values.Order().ToArray();
    return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
}

static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

static string RepositoryRoot()
{
    for (var d = new DirectoryInfo(Directory.GetCurrentDirectory()); d is not null; d = d.Parent)
        if (File.Exists(Path.Combine(d.FullName, "CAI.sln"))) return d.FullName;
    return Directory.GetCurrentDirectory();
}

static int Fail(string message)
{
    Console.Error.WriteLine(message);
    return 2;
}

string? Arg(string name)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}
