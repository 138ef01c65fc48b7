using LLama;
using LLama.Common;
using LLama.Native;

namespace Cai.Export.Tests;

/// <summary>llama.cpp (through LLamaSharp) as the independent reference: exact settings for comparing
/// logits (float32 KV cache, no flash attention, one thread so sums run in one fixed order).</summary>
internal sealed class LlamaCppReference : IDisposable
{
    static LlamaCppReference()
    {
        // llama.cpp logs every load step; keep test output to its errors.
        NativeLibraryConfig.All.WithLogCallback((level, message) =>
        {
            if (level == LLamaLogLevel.Error) Console.Error.Write(message);
        });
    }

    private readonly LLamaWeights _weights;
    private readonly LLamaContext _context;

    public LlamaCppReference(string gguf, int contextSize = 128)
    {
        var parameters = new ModelParams(gguf)
        {
            ContextSize = (uint)contextSize,
            BatchSize = (uint)contextSize,
            UBatchSize = (uint)contextSize,
            GpuLayerCount = 0,
            Threads = 1,
            BatchThreads = 1,
            TypeK = GGMLType.GGML_TYPE_F32,
            TypeV = GGMLType.GGML_TYPE_F32,
            FlashAttention = false,
        };
        _weights = LLamaWeights.LoadFromFile(parameters);
        _context = _weights.CreateContext(parameters);
    }

    public int VocabSize => _weights.Vocab.Count;

    /// <summary>Logits at every position of <paramref name="ids"/> (a fresh sequence), row per position.</summary>
    public float[][] Logits(IReadOnlyList<int> ids)
    {
        _context.NativeHandle.MemoryClear(true);
        var batch = new LLamaBatch();
        for (int i = 0; i < ids.Count; i++) batch.Add((LLamaToken)ids[i], i, (LLamaSeqId)0, true);
        var result = _context.NativeHandle.Decode(batch);
        if (result != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode returned {result}.");
        return Enumerable.Range(0, ids.Count).Select(i => _context.NativeHandle.GetLogitsIth(i).ToArray()).ToArray();
    }

    /// <summary>Greedy continuation: the prompt in one batch, then one token per step through the KV cache.</summary>
    public int[] Greedy(IReadOnlyList<int> prompt, int newTokens)
    {
        var logits = Logits(prompt)[^1];
        var result = new List<int>();
        for (int step = 0; step < newTokens; step++)
        {
            int next = ArgMax(logits);
            result.Add(next);
            if (step == newTokens - 1) break;
            var batch = new LLamaBatch();
            batch.Add((LLamaToken)next, prompt.Count + step, (LLamaSeqId)0, true);
            var r = _context.NativeHandle.Decode(batch);
            if (r != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode returned {r}.");
            logits = _context.NativeHandle.GetLogitsIth(0).ToArray();
        }
        return [.. result];
    }

    public int[] Tokenize(string text) =>
        _weights.Tokenize(text, false, false, System.Text.Encoding.UTF8).Select(t => (int)t).ToArray();

    public static int ArgMax(float[] v)
    {
        int best = 0;
        for (int i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return best;
    }

    public void Dispose()
    {
        _context.Dispose();
        _weights.Dispose();
    }
}
