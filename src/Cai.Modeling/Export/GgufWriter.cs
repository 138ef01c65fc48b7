using System.Buffers.Binary;
using System.Text;

namespace Cai.Modeling.Export;

/// <summary>Element types of GGUF tensors that this writer produces (the numbers are ggml's type ids).</summary>
public enum GgufTensorType : uint
{
    F32 = 0,
    F16 = 1,
    BF16 = 30,
}

/// <summary>
/// A writer of GGUF version 3 files, the single-file model format of llama.cpp, Ollama and LM Studio:
/// a little-endian header ("GGUF", version, tensor count, metadata count), typed key/value metadata,
/// one info record per tensor (name, dimensions in ggml order, element type, offset), padding to the
/// alignment, then the tensor data, each tensor starting on an aligned offset. Written from the format
/// description; it holds the metadata in memory and pulls each tensor's values only while writing it,
/// so exporting a large model keeps one tensor at a time in memory.
/// </summary>
public sealed class GgufWriter
{
    private const uint Version = 3;

    // GGUF metadata value type ids.
    private const uint TypeUInt32 = 4, TypeInt32 = 5, TypeFloat32 = 6, TypeBool = 7, TypeString = 8, TypeArray = 9, TypeUInt64 = 10;

    private readonly List<(string Key, Action<BinaryWriter> WriteTypedValue)> _metadata = [];
    private readonly HashSet<string> _keys = new(StringComparer.Ordinal);
    private readonly List<Tensor> _tensors = [];
    private readonly HashSet<string> _tensorNames = new(StringComparer.Ordinal);

    private sealed record Tensor(string Name, long[] Shape, GgufTensorType Type, Func<float[]> Values);

    /// <summary>Data alignment in bytes; written as <c>general.alignment</c> when it is not the default 32.</summary>
    public int Alignment { get; }

    public GgufWriter(int alignment = 32)
    {
        if (alignment <= 0 || (alignment & (alignment - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(alignment), alignment, "GGUF alignment must be a positive power of two.");
        Alignment = alignment;
        if (alignment != 32) AddUInt32("general.alignment", (uint)alignment);
    }

    /// <summary>Names of the tensors added so far, in file order.</summary>
    public IReadOnlyList<string> TensorNames => _tensors.Select(t => t.Name).ToArray();

    public void AddString(string key, string value) => Add(key, w => { w.Write(TypeString); WriteString(w, value); });
    public void AddUInt32(string key, uint value) => Add(key, w => { w.Write(TypeUInt32); w.Write(value); });
    public void AddUInt64(string key, ulong value) => Add(key, w => { w.Write(TypeUInt64); w.Write(value); });
    public void AddFloat32(string key, float value) => Add(key, w => { w.Write(TypeFloat32); w.Write(value); });
    public void AddBool(string key, bool value) => Add(key, w => { w.Write(TypeBool); w.Write((byte)(value ? 1 : 0)); });

    public void AddStringArray(string key, IReadOnlyList<string> values) => Add(key, w =>
    {
        WriteArrayHeader(w, TypeString, values.Count);
        foreach (var v in values) WriteString(w, v);
    });

    public void AddInt32Array(string key, IReadOnlyList<int> values) => Add(key, w =>
    {
        WriteArrayHeader(w, TypeInt32, values.Count);
        foreach (var v in values) w.Write(v);
    });

    public void AddFloat32Array(string key, IReadOnlyList<float> values) => Add(key, w =>
    {
        WriteArrayHeader(w, TypeFloat32, values.Count);
        foreach (var v in values) w.Write(v);
    });

    /// <summary>
    /// Adds a tensor. <paramref name="shape"/> is in row-major (PyTorch) order, outermost first; GGUF
    /// stores dimensions innermost first, so the writer reverses them. <paramref name="values"/> is
    /// called once, while writing, and must return the elements in row-major order.
    /// </summary>
    public void AddTensor(string name, long[] shape, GgufTensorType type, Func<float[]> values)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (Encoding.UTF8.GetByteCount(name) > 64)
            throw new ArgumentException($"GGUF tensor name '{name}' is longer than 64 bytes.", nameof(name));
        if (shape.Length is 0 or > 4 || shape.Any(d => d <= 0))
            throw new ArgumentException($"Tensor '{name}': GGUF needs 1 to 4 positive dimensions, got [{string.Join(", ", shape)}].", nameof(shape));
        if (!Enum.IsDefined(type)) throw new ArgumentOutOfRangeException(nameof(type), type, "Unsupported GGUF tensor type.");
        if (!_tensorNames.Add(name)) throw new ArgumentException($"Tensor '{name}' was added twice.", nameof(name));
        _tensors.Add(new Tensor(name, shape.ToArray(), type, values));
    }

    /// <summary>Writes the file (to a temporary name beside it first, so a failure leaves no partial GGUF).</summary>
    public void Write(string path, CancellationToken cancellationToken = default)
    {
        var temp = path + ".tmp";
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
                Write(stream, cancellationToken);
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>Writes the file to <paramref name="stream"/>.</summary>
    public void Write(Stream stream, CancellationToken cancellationToken = default)
    {
        using var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("The GGUF writer assumes a little-endian machine.");
        w.Write("GGUF"u8);
        w.Write(Version);
        w.Write((ulong)_tensors.Count);
        w.Write((ulong)_metadata.Count);
        foreach (var (key, writeValue) in _metadata)
        {
            WriteString(w, key);
            writeValue(w);
        }

        long offset = 0;
        var offsets = new long[_tensors.Count];
        for (int i = 0; i < _tensors.Count; i++)
        {
            var t = _tensors[i];
            WriteString(w, t.Name);
            w.Write((uint)t.Shape.Length);
            for (int d = t.Shape.Length - 1; d >= 0; d--) w.Write((ulong)t.Shape[d]);
            w.Write((uint)t.Type);
            offsets[i] = offset;
            w.Write((ulong)offset);
            offset = Align(offset + ByteCount(t));
        }
        Pad(w, stream.Position);

        long dataStart = stream.Position;
        for (int i = 0; i < _tensors.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var t = _tensors[i];
            Pad(w, stream.Position - dataStart);
            var values = t.Values();
            var expected = t.Shape.Aggregate(1L, (a, b) => a * b);
            if (values.Length != expected)
                throw new InvalidOperationException($"Tensor '{t.Name}': {values.Length} values supplied for shape [{string.Join(", ", t.Shape)}] ({expected}).");
            w.Write(Encode(values, t.Type));
        }
        Pad(w, stream.Position - dataStart);
        w.Flush();
    }

    /// <summary>Bytes of one tensor's data.</summary>
    private static long ByteCount(Tensor t) => t.Shape.Aggregate(1L, (a, b) => a * b) * (t.Type == GgufTensorType.F32 ? 4 : 2);

    private long Align(long n) => (n + Alignment - 1) / Alignment * Alignment;

    private void Pad(BinaryWriter w, long position)
    {
        for (long p = position; p < Align(position); p++) w.Write((byte)0);
    }

    private void Add(string key, Action<BinaryWriter> writeTypedValue)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        if (!_keys.Add(key)) throw new ArgumentException($"GGUF metadata key '{key}' was added twice.", nameof(key));
        _metadata.Add((key, writeTypedValue));
    }

    private static void WriteArrayHeader(BinaryWriter w, uint elementType, int count)
    {
        w.Write(TypeArray);
        w.Write(elementType);
        w.Write((ulong)count);
    }

    // A GGUF string: uint64 byte length, then UTF-8 bytes without a terminator.
    private static void WriteString(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    /// <summary>Little-endian bytes of <paramref name="values"/> as <paramref name="type"/>.</summary>
    public static byte[] Encode(ReadOnlySpan<float> values, GgufTensorType type)
    {
        switch (type)
        {
            case GgufTensorType.F32:
            {
                var bytes = new byte[values.Length * 4];
                for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), values[i]);
                return bytes;
            }
            case GgufTensorType.F16:
            {
                var bytes = new byte[values.Length * 2];
                for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(2 * i), (Half)values[i]);
                return bytes;
            }
            case GgufTensorType.BF16:
            {
                var bytes = new byte[values.Length * 2];
                for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2 * i), ToBFloat16(values[i]));
                return bytes;
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(type), type, "Unsupported GGUF tensor type.");
        }
    }

    /// <summary>The upper 16 bits of a float32, rounded to nearest even (as PyTorch converts); NaN stays NaN.</summary>
    public static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x0040);
        uint roundingBias = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + roundingBias) >> 16);
    }
}
