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

    protected override string? WhyIdle => options.Model.Length == 0 ? "Critique:Model is not set: the worker has no policy to sample from" : null;

    protected override async Task ServeRunAsync(IDatabase db, string runId, CancellationToken cancellationToken)
    {
        Constitution constitution = constitutions.Get(options.Constitution);
        var loop = new CritiqueRevisionLoop(models.Get(options.Model), constitution, options.LoopOptions());
        var prompts = ItemStream<PromptItem>.ForRun(runId, StageStreams.Prompts, p => p.Id);
        var revisions = ItemStream<RevisionItem>.ForRun(runId, StageStreams.Revisions, r => r.PromptId);
        var producer = new StreamProducer<RevisionItem>(db, revisions, new StreamProducerOptions { MaxLag = null });
        await using var batcher = new MicroBatcher<PromptRecord, CritiqueRevisionTrace>(
            (batch, ct) => loop.RunAsync(batch, null, ct), options.BatchSize, options.BatchWindow);

        var worker = new StreamWorker<PromptItem>(db, prompts, new StreamWorkerOptions
        {
            Group = Group,
            BatchSize = options.BatchSize,
            MaxConcurrency = options.BatchSize,
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
