using Cai.ServiceDefaults.Grpc;
using Cai.Services.PreferenceModel.Scoring;
using Cai.Inference.TrainingData;

namespace Cai.Services.PreferenceModel;

/// <summary>Wiring of the preference-model service.</summary>
public static class PreferenceModelServiceExtensions
{
    /// <summary>
    /// Registers <see cref="PreferenceModelServiceOptions"/> (section "PreferenceModel"), the one-training-job gate
    /// and the cache of loaded preference models.
    /// </summary>
    public static TBuilder AddPreferenceModel<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddSingleton(PreferenceModelServiceOptions.FromConfiguration(builder.Configuration));
        builder.Services.AddSingleton<TrainingJobs>();
        builder.Services.AddSingleton<LoadedPreferenceModels>();
        return builder;
    }
}
