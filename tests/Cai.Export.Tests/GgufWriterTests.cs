using System.Buffers.Binary;
using System.Text;
using Cai.Modeling.Export;
using TorchSharp;

namespace Cai.Export.Tests;

public sealed class GgufWriterTests
{
    [Fact]
    public void HeaderTensorInfoAndAlignedDataFollowTheFormat()
    {
        var writer = new GgufWriter();
        writer.AddString("general.architecture", "llama");
        writer.AddTensor("a", [2, 3], GgufTensorType.F32, () => [1, 2, 3, 4, 5, 6]);
        writer.AddTensor("b", [3], GgufTensorType.BF16, () => [1, -2, 0.5f]);
        using var stream = new MemoryStream();
        writer.Write(stream);
        var bytes = stream.ToArray();
        var r = new Reader(bytes);

        Assert.Equal("GGUF", Encoding.ASCII.GetString(bytes, 0, 4));
        r.Skip(4);
        Assert.Equal(3u, r.U32());
        Assert.Equal(2ul, r.U64());
        Assert.Equal(1ul, r.U64());
        Assert.Equal("general.architecture", r.Str());
        Assert.Equal(8u, r.U32()); // string
        Assert.Equal("llama", r.Str());
        // Tensor "a": dimensions innermost first (3, then 2), F32, offset 0.
        Assert.Equal("a", r.Str());
        Assert.Equal(2u, r.U32());
        Assert.Equal(3ul, r.U64());
        Assert.Equal(2ul, r.U64());
        Assert.Equal(0u, r.U32());
        Assert.Equal(0ul, r.U64());
        Assert.Equal("b", r.Str());
        Assert.Equal(1u, r.U32());
        Assert.Equal(3ul, r.U64());
        Assert.Equal(30u, r.U32());
        Assert.Equal(32ul, r.U64()); // 24 bytes of "a" padded to the 32-byte alignment

        int dataStart = (r.Position + 31) / 32 * 32;
        Assert.Equal(6f, BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(dataStart + 20)));
        Assert.Equal(0xC000, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(dataStart + 32 + 2))); // bf16 of -2
        Assert.Equal(0, (bytes.Length - dataStart) % 32);
    }

    [Fact]
    public void BFloat16RoundsToNearestEven()
    {
        Assert.Equal(0x3F80, GgufWriter.ToBFloat16(1f));
        Assert.Equal(0x3F80, GgufWriter.ToBFloat16(BitConverter.UInt32BitsToSingle(0x3F808000))); // tie: stays even
        Assert.Equal(0x3F82, GgufWriter.ToBFloat16(BitConverter.UInt32BitsToSingle(0x3F818000))); // tie: rounds up to even
        Assert.True(float.IsNaN(BitConverter.UInt32BitsToSingle((uint)GgufWriter.ToBFloat16(float.NaN) << 16)));
    }

    [Fact]
    public void RotaryPermutationInterleavesTheHalvesOfEachHead()
    {
        // Two heads of width 4: rows (a0 a1 b0 b1)(c0 c1 d0 d1) become (a0 b0 a1 b1)(c0 d0 c1 d1).
        using var rows = torch.arange(8, torch.ScalarType.Float32).reshape(8, 1);
        using var permuted = GgufExporter.InterleaveHalves(rows, heads: 2);
        Assert.Equal(new float[] { 0, 2, 1, 3, 4, 6, 5, 7 }, permuted.data<float>().ToArray());
    }

    [Fact]
    public void DuplicateKeysAndBadShapesAreRefused()
    {
        var writer = new GgufWriter();
        writer.AddUInt32("x", 1);
        Assert.Throws<ArgumentException>(() => writer.AddUInt32("x", 2));
        Assert.Throws<ArgumentException>(() => writer.AddTensor("t", [0, 2], GgufTensorType.F32, () => []));
    }

    private sealed class Reader(byte[] bytes)
    {
        public int Position { get; private set; }
        public void Skip(int n) => Position += n;
        public uint U32() { var v = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(Position)); Position += 4; return v; }
        public ulong U64() { var v = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(Position)); Position += 8; return v; }
        public string Str() { var n = (int)U64(); var s = Encoding.UTF8.GetString(bytes, Position, n); Position += n; return s; }
    }
}
