using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Cai.Modeling.Precision;

/// <summary>
/// Mixed-precision training without autocast (TorchSharp 0.107 has none): float32 master weights
/// that the optimizer updates, and a bfloat16 copy of the same architecture that runs forward and
/// backward. Per step: <see cref="CopyMasterToCompute"/>, forward/backward on <see cref="Compute"/>,
/// <see cref="AccumulateGradients"/>, then the optimizer steps on the master parameters.
/// </summary>
public sealed class MixedPrecision
{
    private readonly List<(Parameter Master, Parameter Compute)> _pairs;

    /// <param name="master">The float32 model the optimizer owns.</param>
    /// <param name="compute">A second instance of the same architecture; it is converted to bfloat16.</param>
    public MixedPrecision(nn.Module master, nn.Module compute, ScalarType computeDtype = ScalarType.BFloat16)
    {
        if (computeDtype is not (ScalarType.BFloat16 or ScalarType.Float16 or ScalarType.Float32))
            throw new ArgumentException($"computeDtype must be a floating type, got {computeDtype}.", nameof(computeDtype));
        if (computeDtype == ScalarType.Float16 && master.parameters().Any(p => p.device.type == DeviceType.CPU))
            throw new ArgumentException("float16 on a CPU runs ~100x slower than bfloat16 (no fp16 units): use BFloat16.", nameof(computeDtype));
        compute.to(computeDtype);
        Compute = compute;
        var computeParams = compute.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        _pairs = [];
        foreach (var (name, p) in master.named_parameters())
        {
            if (!computeParams.TryGetValue(name, out var c) || !c.shape.SequenceEqual(p.shape))
                throw new ArgumentException($"The compute model has no parameter '{name}' of shape [{string.Join(", ", p.shape)}]: it must be the master's architecture.", nameof(compute));
            _pairs.Add((p, c));
        }
        if (computeParams.Count != _pairs.Count)
            throw new ArgumentException("The compute model has parameters the master lacks.", nameof(compute));
        CopyMasterToCompute();
    }

    /// <summary>The low-precision model to run forward and backward on.</summary>
    public nn.Module Compute { get; }

    /// <summary>Rounds the current master weights into the compute copy (after every optimizer step).</summary>
    public void CopyMasterToCompute()
    {
        using var noGrad = no_grad();
        foreach (var (master, compute) in _pairs) compute.copy_(master);
    }

    /// <summary>Adds the compute copy's gradients, in float32, to the master's, and clears the copy's.</summary>
    public void AccumulateGradients()
    {
        using var noGrad = no_grad();
        foreach (var (master, compute) in _pairs)
        {
            if (compute.grad is not { } g) continue;
            if (master.grad is { } mg) mg.add_(g.to(master.dtype));
            else master.grad = g.to(master.dtype);
            compute.grad = null;
        }
    }
}
