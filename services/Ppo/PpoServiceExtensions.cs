using Cai.ServiceDefaults.Grpc;

namespace Cai.Services.Ppo;

/// <summary>Wiring of the ppo service.</summary>
public static class PpoServiceExtensions
{
    /// <summary>Registers <see cref="PpoServiceOptions"/> (section "Ppo"), the one-job-at-a-time gate and the job status.</summary>
    public static TBuilder AddPpo<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddSingleton(PpoServiceOptions.FromConfiguration(builder.Configuration));
        builder.Services.AddSingleton<TrainingJobs>();
        builder.Services.AddSingleton<PpoJobStatus>();
        return builder;
    }
}
