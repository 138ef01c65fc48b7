using Cai.Services.Generation.Models;

namespace Cai.Services.Generation;

/// <summary>Wiring of the generation service (the model server every CAI stage samples and scores with).</summary>
public static class GenerationServiceExtensions
{
    /// <summary>
    /// Registers the generation service's parts: <see cref="GenerationOptions"/> (section "Generation",
    /// checked at start-up), the <see cref="GenerationMetrics"/> and the <see cref="ModelRegistry"/>
    /// (which owns a batching queue per loaded model and stops them with the host).
    /// </summary>
    public static TBuilder AddGeneration<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddSingleton(GenerationOptions.FromConfiguration(builder.Configuration));
        builder.Services.AddSingleton<GenerationMetrics>();
        builder.Services.AddSingleton<ModelRegistry>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ModelRegistry>());
        return builder;
    }
}
