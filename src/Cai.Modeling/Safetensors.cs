using System.Buffers.Binary;
using System.Text.Json;
using static TorchSharp.torch;

namespace Cai.Modeling;

/// <summary>One tensor's entry in a safetensors header: byte range relative to the data section.</summary>
public sealed record SafetensorsEntry(string Name, string DType, long[] Shape, long Begin, long End);

/// <summary>
/// A small reader/writer of the safetensors format (8-byte little-endian header length, a JSON
/// header <c>{name: {dtype, shape, data_offsets}, "__metadata__": {...}}</c> padded with spaces to
/// 8-byte alignment, then the raw little-endian tensor bytes). Written here rather than taken from
/// TorchSharp.PyBridge so that sharded checkpoints, the stored dtype and error messages naming the
/// file and tensor are under our control, and so loading can check names and shapes before copying.
/// </summary>
public static class Safetensors
{
    private static readonly Dictionary<string, (ScalarType Type, int Size)> Dtypes = new()
    {
        ["F64"] = (ScalarType.Float64, 8), ["F32"] = (ScalarType.Float32, 4), ["BF16"] = (ScalarType.BFloat16, 2),
        ["F16"] = (ScalarType.Float16, 2), ["I64"] = (ScalarType.Int64, 8), ["I32"] = (ScalarType.Int32, 4),
        ["I16"] = (ScalarType.Int16, 2), ["I8"] = (ScalarType.Int8, 1), ["U8"] = (ScalarType.Byte, 1),
        ["BOOL"] = (ScalarType.Bool, 1),
    };

    public static string DTypeName(ScalarType type) =>
        Dtypes.FirstOrDefault(kv => kv.Value.Type == type).Key
        ?? throw new NotSupportedException($"safetensors: dtype {type} has no safetensors name.");

    /// <summary>Reads the header only: entries in file order, metadata, and where the data section starts.</summary>
    public static (IReadOnlyList<SafetensorsEntry> Entries, IReadOnlyDictionary<string, string> Metadata, long DataStart) ReadHeader(string path)
    {
        using var stream = File.OpenRead(path);
        return ReadHeader(stream, path);
    }

    private static (IReadOnlyList<SafetensorsEntry>, IReadOnlyDictionary<string, string>, long) ReadHeader(Stream stream, string path)
    {
        Span<byte> lengthBytes = stackalloc byte[8];
        if (stream.ReadAtLeast(lengthBytes, 8, throwOnEndOfStream: false) != 8)
            throw new InvalidDataException($"{path}: too short to be a safetensors file.");
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > (ulong)Math.Min(stream.Length - 8, 100_000_000))
            throw new InvalidDataException($"{path}: header length {headerLength} does not fit the file ({stream.Length} bytes).");
        var header = new byte[headerLength];
        stream.ReadExactly(header);
        var dataLength = stream.Length - 8 - (long)headerLength;

        var entries = new List<SafetensorsEntry>();
        var metadata = new Dictionary<string, string>();
        try
        {
            using var doc = JsonDocument.Parse(header);
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (prop.Name == "__metadata__")
                {
                    foreach (var m in prop.Value.EnumerateObject()) metadata[m.Name] = m.Value.GetString() ?? "";
                    continue;
                }
                var dtype = prop.Value.GetProperty("dtype").GetString()!;
                var shape = prop.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                var offsets = prop.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                if (!Dtypes.TryGetValue(dtype, out var dt))
                    throw new InvalidDataException($"{path}: tensor '{prop.Name}' has unsupported dtype '{dtype}'.");
                var expected = shape.Aggregate(1L, (a, b) => a * b) * dt.Size;
                if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] - offsets[0] != expected || offsets[1] > dataLength)
                    throw new InvalidDataException($"{path}: tensor '{prop.Name}' has data_offsets [{string.Join(", ", offsets)}] inconsistent with {dtype} [{string.Join(", ", shape)}] ({expected} bytes) or the file's {dataLength} data bytes.");
                entries.Add(new SafetensorsEntry(prop.Name, dtype, shape, offsets[0], offsets[1]));
            }
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new InvalidDataException($"{path}: malformed safetensors header: {e.Message}", e);
        }
        return (entries, metadata, 8 + (long)headerLength);
    }

    /// <summary>Reads every tensor of a file onto the CPU, in its stored dtype.</summary>
    public static Dictionary<string, Tensor> Read(string path)
    {
        using var stream = File.OpenRead(path);
        var (entries, _, dataStart) = ReadHeader(stream, path);
        var result = new Dictionary<string, Tensor>();
        try
        {
            foreach (var e in entries)
            {
                var length = e.End - e.Begin;
                if (length > int.MaxValue) throw new NotSupportedException($"{path}: tensor '{e.Name}' exceeds 2 GiB.");
                var t = empty(e.Shape, Dtypes[e.DType].Type);
                if (length > 0)
                {
                    var buffer = new byte[length];
                    stream.Position = dataStart + e.Begin;
                    stream.ReadExactly(buffer);
                    t.bytes = buffer;
                }
                result.Add(e.Name, t);
            }
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
        return result;
    }

    /// <summary>
    /// Writes tensors in the given order. Floating-point tensors are stored as
    /// <paramref name="floatDtype"/> when given (e.g. bf16 to halve the file); others as they are.
    /// </summary>
    public static void Write(string path, IEnumerable<(string Name, Tensor Tensor)> tensors,
        ScalarType? floatDtype = null, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var prepared = new List<(string Name, Tensor Cpu)>();
        try
        {
            foreach (var (name, t) in tensors)
            {
                var cpu = t.detach().to(CPU);
                if (floatDtype is { } fd && is_floating_point(cpu)) cpu = cpu.to(fd);
                prepared.Add((name, cpu.contiguous()));
            }

            using var headerStream = new MemoryStream();
            using (var w = new Utf8JsonWriter(headerStream))
            {
                w.WriteStartObject();
                w.WriteStartObject("__metadata__");
                w.WriteString("format", "pt");
                foreach (var (k, v) in metadata ?? new Dictionary<string, string>()) w.WriteString(k, v);
                w.WriteEndObject();
                long offset = 0;
                foreach (var (name, cpu) in prepared)
                {
                    var bytes = (long)cpu.NumberOfElements * cpu.ElementSize;
                    w.WriteStartObject(name);
                    w.WriteString("dtype", DTypeName(cpu.dtype));
                    w.WriteStartArray("shape");
                    foreach (var d in cpu.shape) w.WriteNumberValue(d);
                    w.WriteEndArray();
                    w.WriteStartArray("data_offsets");
                    w.WriteNumberValue(offset);
                    w.WriteNumberValue(offset + bytes);
                    w.WriteEndArray();
                    w.WriteEndObject();
                    offset += bytes;
                }
                w.WriteEndObject();
            }
            // Pad with spaces so the data section starts 8-byte aligned, as the format asks.
            var padded = (headerStream.Length + 7) / 8 * 8;
            while (headerStream.Length < padded) headerStream.WriteByte((byte)' ');

            using var file = File.Create(path);
            Span<byte> lengthBytes = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(lengthBytes, (ulong)headerStream.Length);
            file.Write(lengthBytes);
            headerStream.Position = 0;
            headerStream.CopyTo(file);
            foreach (var (_, cpu) in prepared)
                if (cpu.NumberOfElements > 0) file.Write(cpu.bytes);
        }
        finally
        {
            foreach (var (_, cpu) in prepared) cpu.Dispose();
        }
    }
}
