using Cai.Training.Jobs;
using System.Diagnostics;
using Cai.Inference;
using Cai.Modeling;
using Cai.Modeling.Tokenization;
using Cai.Protos.V1;
using Cai.ServiceDefaults;
using Cai.ServiceDefaults.Grpc;
using Cai.Inference.TrainingData;
using Cai.Streams;
using Cai.Training;
using Cai.Training.Data;
using Cai.Training.Sft;
using Grpc.Core;
using static TorchSharp.torch;

namespace Cai.Services.Sft.Grpc;

/// <summary>
/// The sft service: SL-CAI's supervised fine-tuning (<see cref="SftTrainer"/>) on (prompt, final revision) pairs
/// mixed with helpful samples. <c>Train</c> streams one progress message per optimizer step, then the result. One
/// job at a time per replica; a client that goes away cancels the job (its checkpoints let <c>resume</c> continue).
/// </summary>
public sealed class SftService(RedisConnection redis, SftServiceOptions options, TrainingJobs jobs, ILogger<SftService> logger)
    : Cai.Protos.V1.Sft.SftBase
{
    public override async Task Train(SftTrainRequest request, IServerStreamWriter<SftTrainResponse> responseStream, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        var trainerOptions = Validate(request);
        string baseModel = options.Resolve(request.BaseModel);
        string outputDir = options.Resolve(request.OutputDir);
        if (!request.Resume && TrainingState.LatestCheckpoint(outputDir) is { } existing)
            throw new ArgumentException($"{outputDir} already holds checkpoints ({Path.GetFileName(existing)}): set resume to continue that run, or use an empty folder", "output_dir");
        if (!Directory.Exists(baseModel)) throw new DirectoryNotFoundException($"base_model: model folder not found: {baseModel}");

        var (revisions, helpful) = request.DataFiles.Count > 0
            ? SftData.LoadFiles(request.DataFiles, options.Resolve, ct)
            : SftData.FromRecords(await ReadRunRevisionsAsync(request.RunId, ct));
        if (revisions.Count == 0)
            throw new ArgumentException("hold no revision examples (only helpful ones, or none)", request.DataFiles.Count > 0 ? "data_files" : "run_id");
        var examples = TrainingMix.Combine(revisions, helpful, trainerOptions.HelpfulMixRatio, trainerOptions.Seed);
        logger.LogInformation("SFT of {BaseModel} on {Revisions} revisions + {Helpful} helpful examples into {OutputDir}",
            baseModel, revisions.Count, examples.Count - revisions.Count, outputDir);

        var clock = Stopwatch.StartNew();
        TrainingResult result;
        try
        {
            result = await jobs.RunAsync<TrainingProgress, TrainingResult>(
                progress => TrainOnWorkerThread(baseModel, outputDir, trainerOptions, examples, progress, ct),
                p => responseStream.WriteAsync(new SftTrainResponse { Progress = TrainingJobs.ToMessage("sft", p.Step, p.TotalSteps, clock.Elapsed, p.Metrics()) }, ct), ct);
        }
        catch (InvalidOperationException ex) when (request.Resume && TrainingState.LatestCheckpoint(outputDir) is not null)
        {
            // The checkpoint in output_dir belongs to a run with other data or options.
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"output_dir: {ex.Message}"));
        }

        await responseStream.WriteAsync(new SftTrainResponse
        {
            Result = new SftResult
            {
                ModelPath = result.ModelDirectory,
                Steps = result.Steps,
                Examples = examples.Count,
                FinalLoss = result.FinalLoss,
            },
        }, ct);
    }

    private TrainingResult TrainOnWorkerThread(string baseModel, string outputDir, SftOptions trainerOptions,
        IReadOnlyList<SftExample> examples, IProgress<TrainingProgress> progress, CancellationToken cancellationToken)
    {
        if (options.Threads > 0) set_num_threads(options.Threads);
        return StageTraining.Sft(baseModel, outputDir, trainerOptions, examples, progress, cancellationToken);
    }

    public override Task<ServiceInfo> Info(InfoRequest request, ServerCallContext context)
    {
        var info = ServiceInfoBuilder.Build("sft", Cai.Protos.V1.Sft.Descriptor, GetType());
        info.RedisConnected = redis.IsConnected;
        info.Device = "cpu";
        info.Details["training"] = jobs.Busy ? "busy" : "idle";
        info.Details["artifacts_root"] = options.ArtifactsRoot;
        return Task.FromResult(info);
    }

    /// <summary>The trainer options of a request; each bad field is an <see cref="ArgumentException"/> naming it.</summary>
    private SftOptions Validate(SftTrainRequest request)
    {
        if (string.IsNullOrWhiteSpace(request.BaseModel)) throw new ArgumentException("must name the model to fine-tune", "base_model");
        if (string.IsNullOrWhiteSpace(request.OutputDir)) throw new ArgumentException("must name the folder for checkpoints and the final model", "output_dir");
        if (request.DataFiles.Count == 0 && string.IsNullOrWhiteSpace(request.RunId))
            throw new ArgumentException("is needed when data_files is empty (the run's revisions stream is read)", "run_id");
        if (!(request.HelpfulRatio >= 0)) throw new ArgumentException($"must be >= 0 (0 = the service default); got {request.HelpfulRatio}", "helpful_ratio");
        if (request.Epochs < 0) throw new ArgumentException($"must be >= 0 (0 = the service default); got {request.Epochs}", "epochs");
        if (!(request.LearningRate >= 0) || double.IsInfinity(request.LearningRate))
            throw new ArgumentException($"must be finite and >= 0 (0 = the service default); got {request.LearningRate}", "learning_rate");
        if (request.BatchSize < 0) throw new ArgumentException($"must be >= 0 (0 = the service default); got {request.BatchSize}", "batch_size");
        if (request.WarmupSteps < 0) throw new ArgumentException($"must be >= 0 (0 = the service default); got {request.WarmupSteps}", "warmup_steps");
        if (request.CheckpointEvery < 0) throw new ArgumentException($"must be >= 0 (0 = the service default); got {request.CheckpointEvery}", "checkpoint_every");
        var d = options.Defaults;
        return d with
        {
            HelpfulMixRatio = request.HelpfulRatio == 0 ? d.HelpfulMixRatio : request.HelpfulRatio,
            Epochs = request.Epochs == 0 ? d.Epochs : request.Epochs,
            LearningRate = request.LearningRate == 0 ? d.LearningRate : request.LearningRate,
            BatchSize = request.BatchSize == 0 ? d.BatchSize : request.BatchSize,
            WarmupSteps = request.WarmupSteps == 0 ? d.WarmupSteps : request.WarmupSteps,
            CheckpointEvery = request.CheckpointEvery == 0 ? d.CheckpointEvery : request.CheckpointEvery,
            ComputeDtype = request.Bf16 ? ScalarType.BFloat16 : ScalarType.Float32,
            Seed = request.Seed,
            ResumeFromCheckpoint = request.Resume,
        };
    }

    private async Task<IReadOnlyList<RevisionItem>> ReadRunRevisionsAsync(string runId, CancellationToken cancellationToken)
    {
        if (!redis.IsConfigured) throw new ArgumentException("data_files is empty and the service has no Redis connection to read the run's revisions from", "data_files");
        ItemStream<RevisionItem> stream;
        try
        {
            stream = ItemStream<RevisionItem>.ForRun(runId, StageStreams.Revisions, r => r.PromptId);
        }
        catch (ArgumentException ex)
        {
            throw new ArgumentException(ex.Message, "run_id", ex);
        }
        return await StageStreamReader.ReadAllAsync(redis.Multiplexer.GetDatabase(), stream, cancellationToken: cancellationToken);
    }
}
