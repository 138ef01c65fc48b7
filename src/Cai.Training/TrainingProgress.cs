namespace Cai.Training;

/// <summary>One optimizer step of a training run, as reported to an <see cref="IProgress{T}"/> callback.</summary>
/// <param name="Step">Optimizer steps completed (1-based).</param>
/// <param name="TotalSteps">Optimizer steps of the whole run.</param>
/// <param name="Epoch">The epoch this step belongs to (0-based).</param>
/// <param name="Loss">Mean training loss of the step's micro-batches.</param>
/// <param name="LearningRate">The rate this step used.</param>
/// <param name="TokensPerSecond">Non-padding tokens through forward and backward per second, this step.</param>
/// <param name="GradientNorm">Global gradient L2 norm before clipping.</param>
/// <param name="Accuracy">Fraction of the step's comparisons ranked the labelled way (preference model only).</param>
public sealed record TrainingProgress(int Step, int TotalSteps, int Epoch, double Loss, double LearningRate,
    double TokensPerSecond, double GradientNorm, double? Accuracy = null)
{
    /// <summary>The step's scalars by the names progress messages and dashboards use.</summary>
    public IReadOnlyDictionary<string, double> Metrics()
    {
        var metrics = new Dictionary<string, double>
        {
            ["loss"] = Loss,
            ["learning_rate"] = LearningRate,
            ["tokens_per_second"] = TokensPerSecond,
            ["grad_norm"] = GradientNorm,
            ["epoch"] = Epoch,
        };
        if (Accuracy is { } accuracy) metrics["accuracy"] = accuracy;
        return metrics;
    }
}

/// <summary>How a training run ended.</summary>
/// <param name="Steps">Optimizer steps of the run (all of them, including those before a resume).</param>
/// <param name="ResumedFromStep">The checkpoint step the run continued from, or null for a fresh run.</param>
/// <param name="FinalLoss">Loss of the last step (NaN when the run had nothing left to do).</param>
/// <param name="TokensPerSecond">Mean training throughput of the steps this call ran.</param>
/// <param name="ModelDirectory">Folder holding the final model in the Hugging Face layout.</param>
/// <param name="Elapsed">Wall time of this call.</param>
public sealed record TrainingResult(int Steps, int? ResumedFromStep, double FinalLoss, double TokensPerSecond,
    string ModelDirectory, TimeSpan Elapsed);
