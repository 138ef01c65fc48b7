using System.Text.Json;
using Cai.Core.CritiqueRevision;
using Cai.Core.Feedback;
using StackExchange.Redis;

namespace Cai.Inference;

/// <summary>
/// A run's own settings for the stream workers, kept in Redis under <c>cai:{runId}:settings</c> (JSON) by the
/// orchestrator before it adds the run to <see cref="RunStreamWorkerService.ActiveRunsKey"/>: which model critiques
/// and revises, under which constitution and loop settings, and which model labels pairs with which feedback
/// settings. A worker serving a run without settings uses its service configuration (a stream a client fills by hand).
/// Paths are as the services resolve them (absolute paths work everywhere on one machine or a shared volume).
/// </summary>
public sealed record StageRunSettings
{
    /// <summary>The policy that answers, critiques and revises red-team prompts.</summary>
    public string? CritiqueModel { get; init; }

    /// <summary>The constitution file.</summary>
    public string? Constitution { get; init; }

    /// <summary>Critique/revision loop settings.</summary>
    public CritiqueRevisionOptions? Critique { get; init; }

    /// <summary>The feedback model that labels pairs.</summary>
    public string? FeedbackModel { get; init; }

    /// <summary>AI-feedback settings.</summary>
    public FeedbackOptions? Feedback { get; init; }

    /// <summary>The Redis key of a run's settings.</summary>
    public static string Key(string runId) => $"cai:{runId}:settings";

    /// <summary>Stores the settings of <paramref name="runId"/> (overwrites).</summary>
    public static Task SaveAsync(IDatabaseAsync db, string runId, StageRunSettings settings) =>
        db.StringSetAsync(Key(runId), JsonSerializer.Serialize(settings, JsonSerializerOptions.Web));

    /// <summary>The settings of <paramref name="runId"/>, or null when the orchestrator stored none.</summary>
    /// <exception cref="InvalidDataException">The stored value does not parse (names the key).</exception>
    public static async Task<StageRunSettings?> LoadAsync(IDatabaseAsync db, string runId)
    {
        var value = await db.StringGetAsync(Key(runId)).ConfigureAwait(false);
        if (value.IsNullOrEmpty) return null;
        try
        {
            return JsonSerializer.Deserialize<StageRunSettings>(value.ToString(), JsonSerializerOptions.Web);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{Key(runId)}: {e.Message}", e);
        }
    }
}
