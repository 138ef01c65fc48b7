using static TorchSharp.torch;

namespace Cai.Modeling;

/// <summary>
/// Keys and values of the tokens seen so far, per layer, so each decoding step runs the model on
/// the new token only. Each layer's keys and values live in a (B, kvHeads, capacity, headDim)
/// buffer written in place, so a step costs no copy of the history; the buffer doubles when full.
/// For inference: the cache owns its tensors (outside any dispose scope) and never carries gradients.
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly Tensor?[] _keys;
    private readonly Tensor?[] _values;
    private readonly long _initialCapacity;

    /// <param name="layers">num_hidden_layers of the model.</param>
    /// <param name="capacity">Token positions to reserve up front (prompt + new tokens); 0 sizes the
    /// buffer by the first call and grows it by doubling.</param>
    public KvCache(int layers, long capacity = 0)
    {
        _keys = new Tensor?[layers];
        _values = new Tensor?[layers];
        _initialCapacity = capacity;
    }

    /// <summary>Number of cached token positions (the same for every row: padding is masked, not removed).</summary>
    public long Length { get; private set; }

    /// <summary>Rows in the cache (0 before the first forward pass).</summary>
    public long BatchSize => _keys[0]?.shape[0] ?? 0;

    /// <summary>Writes this step's keys/values for one layer after the cached ones and returns views of the whole history.</summary>
    internal (Tensor Keys, Tensor Values) Append(int layer, Tensor k, Tensor v)
    {
        long needed = Length + k.shape[2];
        _keys[layer] = Write(_keys[layer], k, Length, needed, _initialCapacity);
        _values[layer] = Write(_values[layer], v, Length, needed, _initialCapacity);
        return (_keys[layer]!.narrow(2, 0, needed), _values[layer]!.narrow(2, 0, needed));

        static Tensor Write(Tensor? buffer, Tensor add, long at, long needed, long initial)
        {
            if (buffer is null || buffer.shape[2] < needed)
            {
                long capacity = Math.Max(needed, buffer is null ? initial : 2 * buffer.shape[2]);
                var grown = zeros([add.shape[0], add.shape[1], capacity, add.shape[3]], add.dtype, add.device);
                grown.DetachFromDisposeScope();
                if (buffer is not null)
                {
                    grown.narrow(2, 0, at).copy_(buffer.narrow(2, 0, at));
                    buffer.Dispose();
                }
                buffer = grown;
            }
            using (no_grad()) buffer.narrow(2, at, add.shape[2]).copy_(add);
            return buffer;
        }
    }

    /// <summary>Called by the model once every layer has appended <paramref name="tokens"/> positions.</summary>
    internal void Commit(long tokens) => Length += tokens;

    /// <summary>Keeps only the given rows (batch indices), e.g. to drop finished sequences.</summary>
    public void SelectRows(Tensor rows) => Replace(t => t.index_select(0, rows));

    /// <summary>Repeats each row <paramref name="n"/> times in place (prompt -> n samples after one prefill).</summary>
    public void RepeatRows(int n) => Replace(t => t.repeat_interleave(n, dim: 0));

    private void Replace(Func<Tensor, Tensor> f)
    {
        foreach (var arr in new[] { _keys, _values })
        {
            for (int i = 0; i < arr.Length; i++)
            {
                if (arr[i] is not { } old) continue;
                var replaced = f(old);
                replaced.DetachFromDisposeScope();
                old.Dispose();
                arr[i] = replaced;
            }
        }
    }

    public void Dispose()
    {
        for (int i = 0; i < _keys.Length; i++)
        {
            _keys[i]?.Dispose();
            _values[i]?.Dispose();
            _keys[i] = _values[i] = null;
        }
    }
}
