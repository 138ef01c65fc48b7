using Cai.Core.Constitutions;
using Cai.Core.CritiqueRevision;
using Cai.Core.Data;
using Cai.Inference;
using Cai.ServiceDefaults;
using Cai.Streams;
using StackExchange.Redis;

namespace Cai.Services.Critique.Workers;

/// <summary>
/// SL-CAI data generation as a stream stage: consumes a run's prompts (<c>cai:{run}:prompts</c>, consumer group
/// "critique", shared by every replica) and publishes one <see cref="RevisionItem"/> per prompt to
/// <c>cai:{run}:revisions</c>, idempotently by prompt id. The stream worker hands up to
/// <see cref="CritiqueOptions.BatchSize"/> entries to concurrent handlers, and a <see cref="MicroBatcher{TIn, TOut}"/>
/// gathers them into one <see cref="CritiqueRevisionLoop"/> batch, so every model call carries that many sequences.
/// Principles depend only on (seed, prompt id), so which replica or batch takes a prompt does not change them.
/// </summary>
public sealed class CritiqueWorker(
    RedisConnection redis, CritiqueOptions options, LanguageModelFactory models, ConstitutionCache constitutions,
    ILogger<CritiqueWorker> logger)
    : RunStreamWorkerService(() => redis.IsConfigured ? redis.Multiplexer : null, options.RunIds, options.WatchActiveRuns,
        options.RunRefreshInterval, logger)
{
    /// <summary>The consumer group of the critique stage on the prompts stream.</summary>
    public const string Group = "critique";


    protected override async Task ServeRunAsync(IDatabase db, string runId, CancellationToken cancellationToken)
    {
        // The run's own settings (stored by the orchestrator) win over the service's configuration.
        var run = await StageRunSettings.LoadAsync(db, runId);
        string model = run?.CritiqueModel ?? options.Model;
        if (model.Length == 0) throw new InvalidOperationException($"run {runId}: no critique model (neither the run's settings nor Critique:Model name one)");
        Constitution constitution = constitutions.Get(run?.Constitution ?? options.Constitution);
        var loopOptions = run?.Critique ?? options.LoopOptions();
        logger.LogInformation("Run {RunId}: critique and revision with {Model}, {Rounds} rounds", runId, model, loopOptions.Rounds);
        var loop = new CritiqueRevisionLoop(models.Get(model), constitution, loopOptions);
        var prompts = ItemStream<PromptItem>.ForRun(runId, StageStreams.Prompts, p => p.Id);
        var revisions = ItemStream<RevisionItem>.ForRun(runId, StageStreams.Revisions, r => r.PromptId);
        var producer = new StreamProducer<RevisionItem>(db, revisions, new StreamProducerOptions { MaxLag = null });
        await using var batcher = new MicroBatcher<PromptRecord, CritiqueRevisionTrace>(
            (batch, ct) => loop.RunAsync(batch, null, ct), loopOptions.BatchSize, options.BatchWindow);

        var worker = new StreamWorker<PromptItem>(db, prompts, new StreamWorkerOptions
        {
            Group = Group,
            BatchSize = loopOptions.BatchSize,
            MaxConcurrency = loopOptions.BatchSize,
        }, async (item, ct) =>
        {
            // Validated alone, so one malformed prompt cannot fail its batch-mates.
            var record = item.Value.ToPromptRecord();
            var trace = await batcher.SubmitAsync(record, ct);
            await producer.PublishAsync(RevisionItem.FromTrace(trace, record.Kind), ct);
        }, logger);
        await worker.RunAsync(cancellationToken);
    }
}
