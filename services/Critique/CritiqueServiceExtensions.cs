using Cai.Inference;
using Cai.Services.Critique.Workers;

namespace Cai.Services.Critique;

/// <summary>Wiring of the critique service.</summary>
public static class CritiqueServiceExtensions
{
    /// <summary>
    /// Registers <see cref="CritiqueOptions"/> (section "Critique"), the inference layer (the generation service when
    /// <c>services:generation:grpc:0</c> is configured, else in-process models), the constitution cache and the
    /// stream worker.
    /// </summary>
    public static TBuilder AddCritique<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddSingleton(CritiqueOptions.FromConfiguration(builder.Configuration));
        builder.Services.AddCaiInference(builder.Configuration);
        builder.Services.AddSingleton<ConstitutionCache>();
        builder.Services.AddHostedService<CritiqueWorker>();
        return builder;
    }
}
