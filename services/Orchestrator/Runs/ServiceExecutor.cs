using Cai.Inference;
using Cai.Pipeline;
using Cai.Protos.V1;
using Cai.Streams;
using Grpc.Core;
using Grpc.Net.Client;
using StackExchange.Redis;

namespace Cai.Services.Orchestrator.Runs;

/// <summary>
/// Runs a run's work on the stage services: red-team prompts and response pairs go through the run's Redis
/// streams to the critique and labeling workers (their replicas share each stream through consumer groups, and the
/// run's settings reach them in <see cref="StageRunSettings"/>); sampling goes to the generation service; SFT,
/// PM and PPO training to their services' <c>Train</c> (retried while a service is busy or restarting, resuming
/// from its checkpoints); PM scores to the preference-model service's <c>Score</c>. Every call has a deadline.
/// </summary>
public sealed class ServiceExecutor : IStageExecutor, IDisposable
{
    private readonly IDatabase _db;
    private readonly OrchestratorOptions _options;
    private readonly ILogger _logger;
    private readonly LanguageModelFactory _models;
    private readonly Dictionary<string, GrpcChannel> _channels = [];
    private readonly IConfiguration _configuration;

    public ServiceExecutor(IDatabase db, IConfiguration configuration, OrchestratorOptions options, ILogger logger)
    {
        _db = db;
        _options = options;
        _logger = logger;
        _configuration = configuration;
        _models = new LanguageModelFactory(InferenceOptions.FromConfiguration(configuration) with { CallTimeout = options.CallDeadline });
        if (!_models.IsRemote)
            throw new InvalidOperationException($"the orchestrator needs the generation service's address ({InferenceOptions.GenerationEndpointKey})");
    }

    public ILanguageModel Model(string path) => _models.Get(path);

    /// <summary>Stores the run's worker settings and makes the workers serve the run.</summary>
    private async Task ActivateAsync(RunContext run)
    {
        await StageRunSettings.SaveAsync(_db, run.RunId, new StageRunSettings
        {
            CritiqueModel = run.BaseModel,
            Constitution = run.Resolve(run.Config.ConstitutionPath),
            Critique = run.CritiqueOptions(),
            FeedbackModel = run.FeedbackModel,
            Feedback = run.FeedbackOptions(),
        }).ConfigureAwait(false);
        await _db.SetAddAsync(RunStreamWorkerService.ActiveRunsKey, run.RunId).ConfigureAwait(false);
    }

    public async Task CritiqueReviseAsync(RunContext run, IReadOnlyList<PromptItem> prompts, Func<RevisionItem, Task> onRecord,
        CancellationToken cancellationToken)
    {
        await ActivateAsync(run).ConfigureAwait(false);
        await ThroughStreamAsync(
            ItemStream<PromptItem>.ForRun(run.RunId, StageStreams.Prompts, p => p.Id), prompts,
            ItemStream<RevisionItem>.ForRun(run.RunId, StageStreams.Revisions, r => r.PromptId), "critique", onRecord, cancellationToken)
            .ConfigureAwait(false);
    }

    public async Task LabelAsync(RunContext run, IReadOnlyList<PairItem> pairs, Func<ComparisonItem, Task> onLabel, CancellationToken cancellationToken)
    {
        await ActivateAsync(run).ConfigureAwait(false);
        await ThroughStreamAsync(
            ItemStream<PairItem>.ForRun(run.RunId, StageStreams.Pairs, p => p.Id), pairs,
            ItemStream<ComparisonItem>.ForRun(run.RunId, StageStreams.Comparisons, c => c.Id), "labeling", onLabel, cancellationToken)
            .ConfigureAwait(false);
    }

    /// <summary>
    /// Publishes the items (idempotently by id: a resumed stage republishes nothing already there) and reads the
    /// output stream from its start until every item's result has arrived; results of earlier attempts count.
    /// </summary>
    private async Task ThroughStreamAsync<TIn, TOut>(ItemStream<TIn> input, IReadOnlyList<TIn> items, ItemStream<TOut> output, string worker,
        Func<TOut, Task> onResult, CancellationToken cancellationToken)
    {
        var wanted = new HashSet<string>(items.Select(input.ItemIdOf), StringComparer.Ordinal);
        if (wanted.Count == 0) return;
        var producer = new StreamProducer<TIn>(_db, input, new StreamProducerOptions { MaxLag = null });
        await producer.PublishManyAsync(items, cancellationToken).ConfigureAwait(false);
        _logger.LogInformation("{Count} items on {Stream} for the {Worker} workers", wanted.Count, input.Key, worker);

        RedisValue after = "-";
        var lastNews = DateTime.UtcNow;
        while (wanted.Count > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var entries = await _db.StreamRangeAsync(output.Key, after, "+", 500).WaitAsync(cancellationToken).ConfigureAwait(false);
            foreach (var entry in entries)
            {
                after = "(" + entry.Id;
                var data = entry[EntryFields.Data];
                if (data.IsNullOrEmpty) continue;
                var result = System.Text.Json.JsonSerializer.Deserialize<TOut>(data.ToString(), output.Json);
                if (result is null || !wanted.Remove(output.ItemIdOf(result))) continue;
                lastNews = DateTime.UtcNow;
                await onResult(result).ConfigureAwait(false);
            }
            if (wanted.Count == 0) break;
            var dead = await _db.ReadDeadLettersAsync(input.DeadLetterKey).ConfigureAwait(false);
            if (dead.FirstOrDefault(d => wanted.Contains(d.ItemId)) is { } letter)
                throw new InvalidOperationException($"the {worker} workers gave up on item {letter.ItemId}: {letter.Error}");
            if (DateTime.UtcNow - lastNews > _options.StallTimeout)
                throw new TimeoutException($"no {worker} result for {_options.StallTimeout.TotalMinutes:F0} minutes ({wanted.Count} items left): is a {worker} worker running?");
            if (entries.Length < 500) await Task.Delay(_options.PollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    public Task<string> TrainSftAsync(SftJob job, IProgress<StageProgress> progress, CancellationToken cancellationToken) =>
        TrainAsync("sft", progress, async (options, report) =>
        {
            var request = new SftTrainRequest
            {
                RunId = job.RunId, BaseModel = job.BaseModel, OutputDir = job.OutputDir, HelpfulRatio = job.HelpfulRatio, Epochs = job.Epochs,
                LearningRate = job.LearningRate, BatchSize = job.BatchSize, Bf16 = job.Bf16, Seed = job.Seed, Resume = true,
            };
            request.DataFiles.AddRange(job.DataFiles);
            using var call = new Sft.SftClient(Channel("sft")).Train(request, options);
            return await ResultOfAsync(call, m => m.Progress, m => m.Result?.ModelPath, report, options.CancellationToken).ConfigureAwait(false);
        }, cancellationToken);

    public Task<string> TrainPreferenceModelAsync(PmJob job, IProgress<StageProgress> progress, CancellationToken cancellationToken) =>
        TrainAsync("preference-model", progress, async (options, report) =>
        {
            var request = new PmTrainRequest
            {
                RunId = job.RunId, InitModel = job.InitModel, OutputDir = job.OutputDir, HelpfulRatio = job.HelpfulRatio, Epochs = job.Epochs,
                LearningRate = job.LearningRate, BatchSize = job.BatchSize, Bf16 = job.Bf16, Seed = job.Seed, Resume = true,
            };
            request.DataFiles.AddRange(job.DataFiles);
            using var call = new PreferenceModel.PreferenceModelClient(Channel("preference-model")).Train(request, options);
            return await ResultOfAsync(call, m => m.Progress, m => m.Result?.ModelPath, report, options.CancellationToken).ConfigureAwait(false);
        }, cancellationToken);

    public Task<string> TrainPpoAsync(PpoJob job, IProgress<StageProgress> progress, CancellationToken cancellationToken) =>
        TrainAsync("ppo", progress, async (options, report) =>
        {
            var request = new PpoTrainRequest
            {
                RunId = job.RunId, PolicyModel = job.PolicyModel, RewardModel = job.RewardModel, OutputDir = job.OutputDir,
                Iterations = job.Iterations, PromptsPerIteration = job.PromptsPerIteration, MaxNewTokens = job.MaxNewTokens,
                LearningRate = job.LearningRate, KlCoef = job.KlCoefficient, KlTarget = job.KlTarget, PpoEpochs = job.Epochs,
                Seed = job.Seed, Resume = true,
            };
            request.PromptFiles.Add(job.PromptFile);
            using var call = new Ppo.PpoClient(Channel("ppo")).Train(request, options);
            return await ResultOfAsync(call, m => m.Progress, m => m.Result?.ModelPath, report, options.CancellationToken).ConfigureAwait(false);
        }, cancellationToken);

    /// <summary>Reads a Train stream: reports each progress message, returns the result's model folder (null when none came).</summary>
    private static async Task<string?> ResultOfAsync<T>(AsyncServerStreamingCall<T> call, Func<T, Progress?> progressOf, Func<T, string?> modelOf,
        Action<Progress> report, CancellationToken cancellationToken)
    {
        string? model = null;
        await foreach (var message in call.ResponseStream.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            if (progressOf(message) is { } progress) report(progress);
            if (modelOf(message) is { } path) model = path;
        }
        return model;
    }

    /// <summary>
    /// One training call, retried while the service is busy with another job (RESOURCE_EXHAUSTED) or unreachable
    /// (UNAVAILABLE: restarting), each retry resuming from the service's checkpoints.
    /// </summary>
    private async Task<string> TrainAsync(string service, IProgress<StageProgress> progress,
        Func<CallOptions, Action<Progress>, Task<string?>> call, CancellationToken cancellationToken)
    {
        var delay = TimeSpan.FromSeconds(2);
        var giveUp = DateTime.UtcNow + _options.StallTimeout;
        while (true)
        {
            try
            {
                var options = new CallOptions(deadline: DateTime.UtcNow + _options.TrainingDeadline, cancellationToken: cancellationToken);
                string? model = await call(options, p => progress.Report(new StageProgress(p.Step, p.TotalSteps,
                    string.Join(" ", p.Metrics.Where(m => m.Key is "loss" or "reward" or "kl" or "accuracy").Select(m => $"{m.Key} {m.Value:F3}")))))
                    .ConfigureAwait(false);
                return model ?? throw new InvalidOperationException($"the {service} service ended its Train stream without a result");
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.ResourceExhausted or StatusCode.Unavailable && DateTime.UtcNow < giveUp
                                         && !cancellationToken.IsCancellationRequested)
            {
                _logger.LogWarning("The {Service} service is {Status} ({Detail}); retrying in {Delay} s", service, e.StatusCode, e.Status.Detail, delay.TotalSeconds);
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromSeconds(Math.Min(30, delay.TotalSeconds * 2));
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException(cancellationToken);
            }
        }
    }

    public async Task<IReadOnlyList<float>> ScoreAsync(string preferenceModel, IReadOnlyList<string> dialogues, CancellationToken cancellationToken)
    {
        var request = new PmScoreRequest { Model = preferenceModel };
        request.Texts.AddRange(dialogues);
        var response = await new PreferenceModel.PreferenceModelClient(Channel("preference-model"))
            .ScoreAsync(request, deadline: DateTime.UtcNow + _options.CallDeadline, cancellationToken: cancellationToken).ConfigureAwait(false);
        return response.Scores;
    }

    /// <summary>The channel to a service, from Aspire's service discovery configuration (<c>services:{name}:grpc:0</c>).</summary>
    private GrpcChannel Channel(string service)
    {
        lock (_channels)
        {
            if (_channels.TryGetValue(service, out var channel)) return channel;
            string address = _configuration[$"services:{service}:grpc:0"]
                ?? throw new InvalidOperationException($"no address for the {service} service (configuration services:{service}:grpc:0)");
            channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions { MaxReceiveMessageSize = 64 * 1024 * 1024 });
            _channels[service] = channel;
            return channel;
        }
    }

    public void Dispose()
    {
        _models.Dispose();
        lock (_channels)
        {
            foreach (var channel in _channels.Values) channel.Dispose();
            _channels.Clear();
        }
    }
}
