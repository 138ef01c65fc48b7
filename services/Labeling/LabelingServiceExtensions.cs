using Cai.Inference;
using Cai.Services.Labeling.Workers;

namespace Cai.Services.Labeling;

/// <summary>Wiring of the labeling service.</summary>
public static class LabelingServiceExtensions
{
    /// <summary>
    /// Registers <see cref="LabelingOptions"/> (section "Labeling"), the inference layer (the generation service when
    /// <c>services:generation:grpc:0</c> is configured, else in-process models), the constitution cache and the
    /// stream worker.
    /// </summary>
    public static TBuilder AddLabeling<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddSingleton(LabelingOptions.FromConfiguration(builder.Configuration));
        builder.Services.AddCaiInference(builder.Configuration);
        builder.Services.AddSingleton<ConstitutionCache>();
        builder.Services.AddHostedService<LabelingWorker>();
        return builder;
    }
}
