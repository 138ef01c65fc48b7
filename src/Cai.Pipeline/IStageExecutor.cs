using Cai.Inference;

namespace Cai.Pipeline;

/// <summary>Progress of a stage's work: <paramref name="Done"/> of <paramref name="Total"/> units, and a line for people; (0, 0) carries only the line.</summary>
public sealed record StageProgress(long Done, long Total, string? Message = null);

/// <summary>Fine-tuning of the policy on SL-CAI data (the sft service's <c>Train</c>). Paths are absolute.</summary>
public sealed record SftJob(string RunId, string BaseModel, string OutputDir, IReadOnlyList<string> DataFiles, double HelpfulRatio,
    int Epochs, double LearningRate, int BatchSize, bool Bf16, ulong Seed);

/// <summary>Preference-model training on comparison files (the preference-model service's <c>Train</c>). Paths are absolute.</summary>
public sealed record PmJob(string RunId, string InitModel, string OutputDir, IReadOnlyList<string> DataFiles, double HelpfulRatio,
    int Epochs, double LearningRate, int BatchSize, bool Bf16, ulong Seed);

/// <summary>PPO of the SL-CAI policy against the PM (the ppo service's <c>Train</c>). Paths are absolute.</summary>
public sealed record PpoJob(string RunId, string PolicyModel, string RewardModel, string OutputDir, string PromptFile, int Iterations,
    int PromptsPerIteration, int MaxNewTokens, double LearningRate, double KlCoefficient, double KlTarget, int Epochs, ulong Seed);

/// <summary>
/// Where a run's work is done. <see cref="CaiRun"/> decides what to do, in which order, and keeps the files and
/// state; an executor does the work: in this process (<c>InProcessExecutor</c>, no Redis or gRPC), or through the
/// services (the orchestrator's executor: Redis Streams to the critique and labeling workers, gRPC to the
/// generation, sft, preference-model and ppo services).
/// </summary>
public interface IStageExecutor
{
    /// <summary>A model to sample from and score options with (a Hugging Face folder, absolute path).</summary>
    ILanguageModel Model(string path);

    /// <summary>
    /// Critiques and revises each red-team prompt under the run's constitution and settings; calls
    /// <paramref name="onRecord"/> once per finished prompt, in any order.
    /// </summary>
    Task CritiqueReviseAsync(RunContext run, IReadOnlyList<PromptItem> prompts, Func<RevisionItem, Task> onRecord, CancellationToken cancellationToken);

    /// <summary>Labels each pair with the feedback model under the run's settings; calls <paramref name="onLabel"/> once per pair.</summary>
    Task LabelAsync(RunContext run, IReadOnlyList<PairItem> pairs, Func<ComparisonItem, Task> onLabel, CancellationToken cancellationToken);

    /// <summary>Runs SFT; returns the fine-tuned model's folder.</summary>
    Task<string> TrainSftAsync(SftJob job, IProgress<StageProgress> progress, CancellationToken cancellationToken);

    /// <summary>Trains the PM; returns its folder.</summary>
    Task<string> TrainPreferenceModelAsync(PmJob job, IProgress<StageProgress> progress, CancellationToken cancellationToken);

    /// <summary>Runs PPO; returns the final policy's folder. Per-iteration statistics go to <c>log.jsonl</c> in the output folder.</summary>
    Task<string> TrainPpoAsync(PpoJob job, IProgress<StageProgress> progress, CancellationToken cancellationToken);

    /// <summary>The PM's score of each dialogue ("\n\nHuman: ...\n\nAssistant: ..." ending with the response).</summary>
    Task<IReadOnlyList<float>> ScoreAsync(string preferenceModel, IReadOnlyList<string> dialogues, CancellationToken cancellationToken);
}
