using Cai.ServiceDefaults.Grpc;
using Cai.Inference.TrainingData;

namespace Cai.Services.Sft;

/// <summary>Wiring of the sft service.</summary>
public static class SftServiceExtensions
{
    /// <summary>Registers <see cref="SftServiceOptions"/> (section "Sft") and the one-job-at-a-time gate.</summary>
    public static TBuilder AddSft<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddSingleton(SftServiceOptions.FromConfiguration(builder.Configuration));
        builder.Services.AddSingleton<TrainingJobs>();
        return builder;
    }
}
