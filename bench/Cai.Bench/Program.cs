// Throughput of the model core on this machine: how many tokens per second prefill, decoding and
// training reach, and how that compares with the best matmul rate (MFU). Usage:
//   dotnet run -c Release --project bench/Cai.Bench -- [--configs tiny,100m] [--device cpu|cuda] [--threads N]
using System.Diagnostics;
using Cai.Modeling;
using Cai.Modeling.Generation;
using Cai.Modeling.Precision;
using TorchSharp;
using static TorchSharp.torch;

var configNames = Arg("--configs") ?? "tiny";
var device = new Device(Arg("--device") ?? "cpu");
if (Arg("--threads") is string threads) set_num_threads(int.Parse(threads));

var configs = new Dictionary<string, (LlamaConfig Config, int Batch, int Seq)>
{
    ["tiny"] = (new LlamaConfig { HiddenSize = 256, IntermediateSize = 688, NumHiddenLayers = 6, NumAttentionHeads = 8, NumKeyValueHeads = 8, VocabSize = 2048, MaxPositionEmbeddings = 512 }, 8, 256),
    ["100m"] = (new LlamaConfig { HiddenSize = 768, IntermediateSize = 2048, NumHiddenLayers = 12, NumAttentionHeads = 12, NumKeyValueHeads = 12, VocabSize = 16384, MaxPositionEmbeddings = 512, TieWordEmbeddings = true }, 2, 256),
};

Console.WriteLine($"device {device.type}, threads {get_num_threads()}, {Environment.ProcessorCount} logical CPUs");
var rows = new List<(string Config, string Measure, string Value)>();
var total = Stopwatch.StartNew();

// The machine's best matmul rate: the maximum over repeated runs at two sizes (one short run under-reads it).
double f32Peak = BestMatmulGflops(ScalarType.Float32, device);
double bf16Peak = BestMatmulGflops(ScalarType.BFloat16, device);
rows.Add(("-", "best matmul f32 GFLOP/s (2048^3, 3072^3)", $"{f32Peak:F0}"));
rows.Add(("-", "best matmul bf16 GFLOP/s (2048^3, 3072^3)", $"{bf16Peak:F0}"));
double bandwidth = MemoryBandwidthGBps(device);
rows.Add(("-", "memory bandwidth (256 MiB copy) GB/s", $"{bandwidth:F1}"));

foreach (var name in configNames.Split(','))
{
    if (!configs.TryGetValue(name, out var entry))
    {
        Console.Error.WriteLine($"--configs: unknown config '{name}' (known: {string.Join(", ", configs.Keys)})");
        return 2;
    }
    var (config, batch, seq) = entry;
    var model = new LlamaForCausalLM(config, device);
    long parameters = model.ParameterCount();
    rows.Add((name, "parameters", $"{parameters / 1e6:F1} M"));
    // Training FLOPs per token (PaLM's estimate): 6 x matmul parameters (the embedding lookup is free,
    // a tied embedding still does the LM head's matmul) + 12 x layers x width x context for attention.
    long matmulParameters = parameters - (config.TieWordEmbeddings ? 0 : (long)config.VocabSize * config.HiddenSize);
    double trainFlopsPerToken = 6.0 * matmulParameters + 12.0 * config.NumHiddenLayers * config.HiddenSize * seq;
    var ids = randint(0, config.VocabSize, [batch, seq], dtype: ScalarType.Int64, device: device);

    foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
    {
        var dt = dtype == ScalarType.Float32 ? "f32" : "bf16";
        var m = dtype == ScalarType.Float32 ? model : Clone(model, config, device, dtype);
        m.eval();
        var prefill = Time(() => { using var s = NewDisposeScope(); using var i = inference_mode(); Sync(m.Forward(ids, logitsToKeep: 1).Logits); });
        rows.Add((name, $"prefill {batch}x{seq} {dt} tok/s", $"{batch * seq / prefill:F0}"));

        foreach (var b in new[] { 1, 32, 64 })
        {
            int newTokens = name == "tiny" ? 64 : 16;
            var prompts = Enumerable.Range(0, b).Select(r => Enumerable.Range(0, 16).Select(j => (r * 31 + j * 7) % config.VocabSize).ToArray()).ToArray();
            var options = new SamplingOptions { Temperature = 0, MaxNewTokens = newTokens, StopAtEos = false };
            var sampler = new Sampler(m);
            var decode = Time(() => sampler.Generate(prompts, options), minSeconds: 1, maxIters: 3);
            rows.Add((name, $"decode batch {b} KV cache {dt} tok/s", $"{b * newTokens / decode:F0}"));
            if (b == 1)
            {
                // At batch 1 every step reads all weights once: the memory-bound ceiling on this machine.
                double weightBytes = parameters * (dtype == ScalarType.Float32 ? 4.0 : 2.0);
                double boundTokensPerSecond = bandwidth * 1e9 / weightBytes;
                rows.Add((name, $"decode batch 1 {dt}: weight MB/token | bound tok/s | achieved", $"{weightBytes / 1e6:F1} | {boundTokensPerSecond:F0} | {100 * (newTokens / decode) / boundTokensPerSecond:F0}%"));
            }
            if (name == "tiny")
            {
                // Fewer tokens: without a cache each step recomputes the whole sequence.
                var noCache = Time(() => GreedyWithoutCache(m, prompts, newTokens / 2), minSeconds: 1, maxIters: 2);
                rows.Add((name, $"decode batch {b} no cache {dt} tok/s", $"{b * (newTokens / 2) / noCache:F0}"));
            }
        }
        if (name == "tiny")
        {
            // The speedup the KV cache buys over a long answer: 256 new tokens, batch 1, greedy.
            var prompt = new[] { Enumerable.Range(0, 16).Select(j => j * 7 % config.VocabSize).ToArray() };
            var longOptions = new SamplingOptions { Temperature = 0, MaxNewTokens = 256, StopAtEos = false };
            var withCache = Time(() => new Sampler(m).Generate(prompt, longOptions), minSeconds: 0, maxIters: 1);
            var withoutCache = Time(() => GreedyWithoutCache(m, prompt, 256), minSeconds: 0, maxIters: 1);
            rows.Add((name, $"decode 256 new tokens batch 1 {dt}: no cache s | KV cache s | speedup", $"{withoutCache:F2} | {withCache:F2} | {withoutCache / withCache:F1}x"));
        }
        if (!ReferenceEquals(m, model)) m.Dispose();
    }

    if (name == "tiny")
    {
        // PPO's shapes (64 rollouts of ~60 prompt + 48 response tokens, minibatches of 16). Left-padded prompts need
        // an attention mask instead of SDPA's causal path: forward passes as the rollout makes them (policy,
        // reference, value, PM) and forward + backward as the update makes them, with and without the mask.
        const int rollouts = 64, promptLength = 60, responseLength = 48, minibatch = 16;
        var ppoIds = randint(1, config.VocabSize, [rollouts, promptLength + responseLength], dtype: ScalarType.Int64, device: device);
        var ppoMask = ones_like(ppoIds);
        for (int r = 0; r < rollouts; r++) ppoMask[r].narrow(0, 0, r % 20).fill_(0); // 0-19 padding tokens a row
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
        {
            var dt = dtype == ScalarType.Float32 ? "f32" : "bf16";
            var m = dtype == ScalarType.Float32 ? model : Clone(model, config, device, dtype);
            m.eval();
            foreach (var masked in new[] { false, true })
            {
                var seconds = Time(() => { using var s = NewDisposeScope(); using var i = inference_mode(); Sync(m.Forward(ppoIds, masked ? ppoMask : null, logitsToKeep: responseLength + 1).Logits); });
                rows.Add((name, $"ppo rollout forward 64x108 {(masked ? "masked" : "causal")} {dt} s", $"{seconds:F3}"));
            }
            if (!ReferenceEquals(m, model)) m.Dispose();
        }
        model.train();
        var ppoOptimizer = optim.AdamW(model.parameters(), lr: 1e-5);
        foreach (var masked in new[] { false, true })
        {
            var mb = ppoIds.narrow(0, 0, minibatch);
            var mbMask = ppoMask.narrow(0, 0, minibatch);
            var seconds = Time(() =>
            {
                using var s = NewDisposeScope();
                ppoOptimizer.zero_grad();
                var logits = model.Forward(mb, masked ? mbMask : null, logitsToKeep: responseLength + 1).Logits;
                logits.to(ScalarType.Float32).log_softmax(-1).mean().backward();
                ppoOptimizer.step();
            }, minSeconds: 2, maxIters: 5);
            rows.Add((name, $"ppo update step 16x108 fwd+bwd+AdamW {(masked ? "masked" : "causal")} f32 s", $"{seconds:F3}"));
        }
        ppoOptimizer.Dispose();
    }

    // Training: next-token cross-entropy, backward, AdamW; f32, then bf16 compute with f32 master weights.
    model.train();
    var optimizer = optim.AdamW(model.parameters(), lr: 1e-4);
    var inputs = ids.narrow(1, 0, seq - 1);
    var targets = ids.narrow(1, 1, seq - 1).reshape(-1);
    var trainF32 = Time(() =>
    {
        using var s = NewDisposeScope();
        optimizer.zero_grad();
        var loss = nn.functional.cross_entropy(model.Forward(inputs).Logits.view(-1, config.VocabSize), targets);
        loss.backward();
        optimizer.step();
    }, minSeconds: 2, maxIters: 5);
    double tokensF32 = batch * (seq - 1) / trainF32;
    rows.Add((name, "train f32 tok/s", $"{tokensF32:F0}"));
    rows.Add((name, "train f32 MFU (vs f32 matmul)", $"{100 * trainFlopsPerToken * tokensF32 / 1e9 / f32Peak:F0}%"));

    var mixed = new MixedPrecision(model, new LlamaForCausalLM(config, device));
    var compute = (LlamaForCausalLM)mixed.Compute;
    compute.train();
    var trainBf16 = Time(() =>
    {
        using var s = NewDisposeScope();
        optimizer.zero_grad();
        var loss = nn.functional.cross_entropy(compute.Forward(inputs).Logits.to(ScalarType.Float32).view(-1, config.VocabSize), targets);
        loss.backward();
        mixed.AccumulateGradients();
        optimizer.step();
        mixed.CopyMasterToCompute();
    }, minSeconds: 2, maxIters: 5);
    double tokensBf16 = batch * (seq - 1) / trainBf16;
    rows.Add((name, "train bf16 compute + f32 master tok/s", $"{tokensBf16:F0}"));
    rows.Add((name, "train bf16 MFU (vs bf16 matmul)", $"{100 * trainFlopsPerToken * tokensBf16 / 1e9 / bf16Peak:F0}%"));
    compute.Dispose();
    model.Dispose();
}

int width = rows.Max(r => r.Measure.Length);
Console.WriteLine($"{"config",-7} {"measure".PadRight(width)} value");
foreach (var (c, measure, value) in rows) Console.WriteLine($"{c,-7} {measure.PadRight(width)} {value}");
Console.WriteLine($"total {total.Elapsed.TotalSeconds:F0} s");
return 0;

string? Arg(string name)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

// Seconds per call: one warm-up, then calls until minSeconds have passed or maxIters were made.
static double Time(Action step, double minSeconds = 1, int maxIters = 10)
{
    step();
    var sw = Stopwatch.StartNew();
    int n = 0;
    while (n < maxIters && (n == 0 || sw.Elapsed.TotalSeconds < minSeconds)) { step(); n++; }
    return sw.Elapsed.TotalSeconds / n;
}

static double BestMatmulGflops(ScalarType dtype, Device device) =>
    new[] { 2048, 3072 }.SelectMany(size => Enumerable.Range(0, 4).Select(_ => PrecisionAdvisor.MatmulGflops(dtype, device, size, 3))).Max();

// Read + write bytes per second of a large tensor copy: the memory bandwidth decoding is bound by.
static double MemoryBandwidthGBps(Device device)
{
    using var source = ones(64L * 1024 * 1024, dtype: ScalarType.Float32, device: device);
    using var target = empty_like(source);
    double seconds = Time(() => { target.copy_(source); Sync(target.narrow(0, 0, 1)); }, minSeconds: 1, maxIters: 20);
    return 2.0 * source.NumberOfElements * 4 / seconds / 1e9;
}

static void Sync(Tensor t) => t.sum().to(ScalarType.Float32).item<float>();

static LlamaForCausalLM Clone(LlamaForCausalLM source, LlamaConfig config, Device device, ScalarType dtype)
{
    var copy = new LlamaForCausalLM(config, device);
    var from = source.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
    Checkpoint.LoadInto(copy, from, "bench");
    copy.to(dtype);
    return copy;
}

// Decoding the naive way: the whole sequence through the model for every new token.
static void GreedyWithoutCache(LlamaForCausalLM m, int[][] prompts, int steps)
{
    using var i = inference_mode();
    var seq = tensor(prompts.SelectMany(p => p.Select(x => (long)x)).ToArray(), [prompts.Length, prompts[0].Length], device: m.Device);
    for (int s = 0; s < steps; s++)
    {
        using var scope = NewDisposeScope();
        var next = m.Forward(seq, logitsToKeep: 1).Logits.squeeze(1).argmax(-1, keepdim: true);
        var grown = cat([seq, next], 1).DetachFromDisposeScope();
        seq.Dispose();
        seq = grown;
    }
    seq.Dispose();
}
