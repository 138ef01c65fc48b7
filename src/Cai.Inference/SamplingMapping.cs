using Cai.Core.Generation;
using Cai.Protos.V1;

namespace Cai.Inference;

/// <summary>Turns a request's <see cref="SamplingParams"/> into the core's <see cref="GenerationSettings"/>.</summary>
public static class SamplingMapping
{
    /// <summary>
    /// The settings a request asks for, over the service's <paramref name="defaults"/>: proto3 zeros mean "not set"
    /// except temperature (0 is greedy, so an absent message keeps the default temperature); seed 0 means "derive
    /// from the request seed". Errors are <see cref="ArgumentException"/>s named by the field path
    /// (<c>sampling.top_p</c>).
    /// </summary>
    public static GenerationSettings ToSettings(SamplingParams? sampling, GenerationSettings defaults, string field = "sampling")
    {
        ArgumentNullException.ThrowIfNull(defaults);
        if (sampling is null) return defaults;
        if (!(float.IsFinite(sampling.Temperature) && sampling.Temperature >= 0))
            throw new ArgumentException($"must be finite and >= 0 (0 = greedy); got {sampling.Temperature}", $"{field}.temperature");
        if (!(sampling.TopP >= 0 && sampling.TopP <= 1))
            throw new ArgumentException($"must be in (0, 1], or 0 for unset; got {sampling.TopP}", $"{field}.top_p");
        if (sampling.TopK < 0) throw new ArgumentException($"must be >= 0 (0 = unset); got {sampling.TopK}", $"{field}.top_k");
        if (sampling.MaxNewTokens < 0) throw new ArgumentException($"must be >= 0 (0 = the service default); got {sampling.MaxNewTokens}", $"{field}.max_new_tokens");
        if (sampling.NumSamples is < 0 or > 1) throw new ArgumentException($"must be 0 or 1 here (one response per prompt); got {sampling.NumSamples}", $"{field}.num_samples");
        for (int i = 0; i < sampling.Stop.Count; i++)
            if (sampling.Stop[i].Length == 0) throw new ArgumentException("a stop string must not be empty", $"{field}.stop[{i}]");
        return defaults.WithStops(sampling.Stop) with
        {
            Temperature = sampling.Temperature,
            TopP = sampling.TopP == 0 ? 1.0 : sampling.TopP,
            TopK = sampling.TopK,
            MaxNewTokens = sampling.MaxNewTokens == 0 ? defaults.MaxNewTokens : sampling.MaxNewTokens,
            Seed = sampling.Seed == 0 ? defaults.Seed : sampling.Seed,
        };
    }
}
