using Cai.Core.Feedback;
using Cai.Inference;
using Cai.ServiceDefaults;
using Cai.Streams;
using StackExchange.Redis;

namespace Cai.Services.Labeling.Workers;

/// <summary>
/// RL-CAI's AI feedback as a stream stage: consumes a run's sample pairs (<c>cai:{run}:pairs</c>, consumer group
/// "labeling", shared by every replica) and publishes one soft-labelled <see cref="ComparisonItem"/> per pair to
/// <c>cai:{run}:comparisons</c>, idempotently by pair id. Up to <see cref="LabelingOptions.BatchSize"/> pairs are
/// gathered (<see cref="MicroBatcher{TIn, TOut}"/>) into one <see cref="AiFeedbackLabeler"/> batch, i.e. one scoring
/// call of pairs x principles x orders rows.
/// </summary>
public sealed class LabelingWorker(
    RedisConnection redis, LabelingOptions options, LanguageModelFactory models, ConstitutionCache constitutions,
    ILogger<LabelingWorker> logger)
    : RunStreamWorkerService(() => redis.IsConfigured ? redis.Multiplexer : null, options.RunIds, options.WatchActiveRuns,
        options.RunRefreshInterval, logger)
{
    /// <summary>The consumer group of the labeling stage on the pairs stream.</summary>
    public const string Group = "labeling";


    protected override async Task ServeRunAsync(IDatabase db, string runId, CancellationToken cancellationToken)
    {
        // The run's own settings (stored by the orchestrator) win over the service's configuration.
        var run = await StageRunSettings.LoadAsync(db, runId);
        string modelName = run?.FeedbackModel ?? options.Model;
        if (modelName.Length == 0) throw new InvalidOperationException($"run {runId}: no feedback model (neither the run's settings nor Labeling:Model name one)");
        var feedback = run?.Feedback ?? options.FeedbackOptions();
        logger.LogInformation("Run {RunId}: AI feedback with {Model}, {Principles} principles per comparison", runId, modelName, feedback.PrinciplesPerComparison);
        var model = models.Get(modelName);
        var labeler = new AiFeedbackLabeler(model, constitutions.Get(run?.Constitution ?? options.Constitution), feedback, model);
        var pairs = ItemStream<PairItem>.ForRun(runId, StageStreams.Pairs, p => p.Id);
        var comparisons = ItemStream<ComparisonItem>.ForRun(runId, StageStreams.Comparisons, c => c.Id);
        var producer = new StreamProducer<ComparisonItem>(db, comparisons, new StreamProducerOptions { MaxLag = null });
        await using var batcher = new MicroBatcher<FeedbackComparison, SoftLabel>(
            (batch, ct) => labeler.LabelAsync(batch, ct), options.BatchSize, options.BatchWindow);

        var worker = new StreamWorker<PairItem>(db, pairs, new StreamWorkerOptions
        {
            Group = Group,
            BatchSize = options.BatchSize,
            MaxConcurrency = options.BatchSize,
        }, async (item, ct) =>
        {
            // Validated alone, so one malformed pair cannot fail its batch-mates.
            var comparison = item.Value.ToComparison();
            var label = await batcher.SubmitAsync(comparison, ct);
            await producer.PublishAsync(ComparisonItem.FromLabel(item.Value, label), ct);
        }, logger);
        await worker.RunAsync(cancellationToken);
    }
}
