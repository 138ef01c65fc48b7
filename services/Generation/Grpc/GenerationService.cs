using System.Globalization;
using System.Runtime.ExceptionServices;
using Cai.Protos.V1;
using Cai.ServiceDefaults;
using Cai.ServiceDefaults.Grpc;
using Cai.Services.Generation.Batching;
using Cai.Services.Generation.Models;
using Grpc.Core;

namespace Cai.Services.Generation.Grpc;

/// <summary>
/// The generation service: samples responses, critiques and revisions (Generate) and scores
/// continuations such as the " (A)"/" (B)" answers of AI feedback (Score) for whichever model a
/// request names. Requests are checked here, then queued on the model's <see cref="DynamicBatcher"/>.
/// </summary>
public sealed class GenerationService(ModelRegistry registry, GenerationOptions options, RedisConnection redis)
    : Cai.Protos.V1.Generation.GenerationBase
{
    public override async Task Generate(GenerateRequest request, IServerStreamWriter<GenerateResponse> responseStream, ServerCallContext context)
    {
        var cancellationToken = context.CancellationToken;
        var sampling = RequestValidation.Generate(request, options);
        GenerateWork work;
        while (true)
        {
            var model = await registry.GetAsync(request.Model, cancellationToken);
            using (var lease = model.TryLease())
            {
                if (lease is not null)
                {
                    var prompts = RequestValidation.EncodePrompts(request, sampling, model.Tokenizer, model.Model.Config.MaxPositionEmbeddings, options);
                    // Like Hugging Face's generate, stop at any of config.json's eos_token_id as well as the tokenizer's EOS.
                    work = new GenerateWork(prompts, sampling with { StopTokenIds = model.Model.Config.EosTokenIds }, request.StreamTokens, cancellationToken);
                    if (model.Batcher.TryEnqueue(work)) break;
                }
            }
            // The model is being evicted: look it up (and load it) again.
        }
        await foreach (var response in work.Responses.Reader.ReadAllAsync(cancellationToken))
            await responseStream.WriteAsync(response, cancellationToken);
        if (work.Error is not null) ExceptionDispatchInfo.Throw(work.Error);
    }

    public override async Task<ScoreResponse> Score(ScoreRequest request, ServerCallContext context)
    {
        var cancellationToken = context.CancellationToken;
        RequestValidation.Score(request);
        ScoreWork work;
        while (true)
        {
            var model = await registry.GetAsync(request.Model, cancellationToken);
            using (var lease = model.TryLease())
            {
                if (lease is not null)
                {
                    var (pairs, perItem) = RequestValidation.EncodeScore(request, model.Tokenizer, model.Model.Config.MaxPositionEmbeddings, options);
                    work = new ScoreWork(pairs, perItem, cancellationToken);
                    if (model.Batcher.TryEnqueue(work)) break;
                }
            }
        }
        return await work.Result.Task.WaitAsync(cancellationToken);
    }

    public override Task<ServiceInfo> Info(InfoRequest request, ServerCallContext context)
    {
        var info = ServiceInfoBuilder.Build("generation", Cai.Protos.V1.Generation.Descriptor, GetType());
        info.RedisConnected = redis.IsConnected;
        info.Device = registry.Device.ToString();
        var loaded = registry.Loaded();
        info.Details["loaded_models"] = string.Join(";", loaded.Select(m => m.Name));
        info.Details["compute_dtype"] = registry.ComputeDtype.ToString();
        info.Details["compute_dtype"] = registry.ComputeDtype.ToString();
        info.Details["queue_length"] = loaded.Sum(m => m.Batcher.QueueLength).ToString(CultureInfo.InvariantCulture);
        foreach (var m in loaded)
            info.Details[$"queue_length:{m.Name}"] = m.Batcher.QueueLength.ToString(CultureInfo.InvariantCulture);
        info.Details["max_batch_size"] = options.MaxBatchSize.ToString(CultureInfo.InvariantCulture);
        info.Details["batch_window_ms"] = options.BatchWindow.TotalMilliseconds.ToString(CultureInfo.InvariantCulture);
        info.Details["artifacts_root"] = options.ArtifactsRoot ?? "";
        return Task.FromResult(info);
    }
}
