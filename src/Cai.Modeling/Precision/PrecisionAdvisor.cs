using System.Diagnostics;
using static TorchSharp.torch;

namespace Cai.Modeling.Precision;

/// <summary>What <see cref="PrecisionAdvisor"/> measured and recommends.</summary>
/// <param name="ComputeDtype">Float32 or BFloat16 (never Float16: it is ~100x slower on CPUs without fp16 units).</param>
public sealed record PrecisionAdvice(ScalarType ComputeDtype, double Float32Gflops, double BFloat16Gflops, string Reason);

/// <summary>
/// Start-up check: times a square matmul in float32 and bfloat16 on the device and recommends
/// bfloat16 compute only where it is measurably faster (CPUs without bf16 units emulate it slowly).
/// Master weights stay float32 either way.
/// </summary>
public static class PrecisionAdvisor
{
    /// <param name="margin">bf16 must be at least this many times faster to be recommended.</param>
    public static PrecisionAdvice Advise(Device? device = null, int size = 1024, int repeats = 3, double margin = 1.2)
    {
        device ??= CPU;
        double f32 = MatmulGflops(ScalarType.Float32, device, size, repeats);
        double bf16 = MatmulGflops(ScalarType.BFloat16, device, size, repeats);
        bool useBf16 = bf16 >= margin * f32;
        var reason = useBf16
            ? $"bf16 matmul {bf16:F0} GFLOP/s vs f32 {f32:F0} GFLOP/s on {device.type}: bf16 compute recommended."
            : $"bf16 matmul {bf16:F0} GFLOP/s is not {margin:F1}x f32 {f32:F0} GFLOP/s on {device.type}: stay in f32.";
        return new PrecisionAdvice(useBf16 ? ScalarType.BFloat16 : ScalarType.Float32, f32, bf16, reason);
    }

    /// <summary>The names a service setting may give a precision: "f32", "bf16", or "auto" (bf16 where <see cref="Advise"/> finds it faster).</summary>
    public static readonly IReadOnlyList<string> SettingNames = ["f32", "bf16", "auto"];

    /// <summary>The precision a setting names (see <see cref="SettingNames"/>), measuring the device for "auto"; null for any other name.</summary>
    public static ScalarType? Resolve(string name, Device? device = null) => name switch
    {
        "f32" => ScalarType.Float32,
        "bf16" => ScalarType.BFloat16,
        "auto" => Advise(device).ComputeDtype,
        _ => null,
    };

    /// <summary>Best of <paramref name="repeats"/> timings of a size^3 matmul, in GFLOP/s.</summary>
    public static double MatmulGflops(ScalarType dtype, Device device, int size, int repeats)
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var a = randn(size, size, dtype: dtype, device: device);
        var b = randn(size, size, dtype: dtype, device: device);
        a.matmul(b).sum().to(ScalarType.Float32).item<float>(); // warm-up; item() also waits for asynchronous devices
        double best = double.MaxValue;
        for (int i = 0; i < repeats; i++)
        {
            var sw = Stopwatch.StartNew();
            a.matmul(b).sum().to(ScalarType.Float32).item<float>();
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
        }
        return 2.0 * size * size * size / best / 1e9;
    }
}
