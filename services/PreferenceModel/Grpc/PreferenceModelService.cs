using Cai.Training.Jobs;
using System.Diagnostics;
using Cai.Core.Data;
using Cai.Core.Dialogues;
using Cai.Modeling;
using Cai.Modeling.Tokenization;
using Cai.Protos.V1;
using Cai.ServiceDefaults;
using Cai.ServiceDefaults.Grpc;
using Cai.Services.PreferenceModel.Evaluation;
using Cai.Services.PreferenceModel.Scoring;
using Cai.Inference.TrainingData;
using Cai.Training;
using Cai.Training.Data;
using Cai.Training.PreferenceModel;
using Grpc.Core;
using static TorchSharp.torch;

namespace Cai.Services.PreferenceModel.Grpc;

/// <summary>
/// The preference-model service of RL-CAI: <c>Train</c> fits a scalar head on a language-model trunk to soft AI
/// labels mixed with helpfulness comparisons (<see cref="PreferenceModelTrainer"/>, Bradley-Terry on soft labels),
/// streaming progress then the result; <c>Score</c> serves the trained PM as PPO's reward, batched
/// (<see cref="PreferenceModelScorer"/>); <c>Evaluate</c> reports accuracy and calibration on two-choice files
/// (<see cref="PreferenceModelEvaluator"/>) and can draw the reliability diagram.
/// </summary>
public sealed class PreferenceModelService(
    RedisConnection redis, PreferenceModelServiceOptions options, TrainingJobs jobs, LoadedPreferenceModels models,
    ILogger<PreferenceModelService> logger)
    : Cai.Protos.V1.PreferenceModel.PreferenceModelBase
{
    public override async Task Train(PmTrainRequest request, IServerStreamWriter<PmTrainResponse> responseStream, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        var trainerOptions = Validate(request);
        string initModel = options.Resolve(request.InitModel);
        string outputDir = options.Resolve(request.OutputDir);
        if (!request.Resume && TrainingState.LatestCheckpoint(outputDir) is { } existing)
            throw new ArgumentException($"{outputDir} already holds checkpoints ({Path.GetFileName(existing)}): set resume to continue that run, or use an empty folder", "output_dir");
        if (!Directory.Exists(initModel)) throw new DirectoryNotFoundException($"init_model: model folder not found: {initModel}");
        var (harmless, helpful) = ComparisonFiles.Load(request.DataFiles, options.Resolve, ct);
        // Without AI comparisons the helpfulness data is the whole set (e.g. a PM trained on hh-rlhf alone).
        var comparisons = harmless.Count > 0
            ? TrainingMix.Combine(harmless, helpful, trainerOptions.HelpfulMixRatio, trainerOptions.Seed)
            : helpful;
        if (comparisons.Count == 0) throw new ArgumentException("hold no comparisons", "data_files");
        logger.LogInformation("PM training from {InitModel} on {Harmless} AI comparisons + {Helpful} helpfulness comparisons into {OutputDir}",
            initModel, harmless.Count, comparisons.Count - harmless.Count, outputDir);

        var clock = Stopwatch.StartNew();
        TrainingResult result;
        double trainAccuracy;
        try
        {
            (result, trainAccuracy) = await jobs.RunAsync<TrainingProgress, (TrainingResult, double)>(
                progress => TrainOnWorkerThread(initModel, outputDir, trainerOptions, comparisons, progress, ct),
                p => responseStream.WriteAsync(new PmTrainResponse { Progress = TrainingJobs.ToMessage("preference-model", p.Step, p.TotalSteps, clock.Elapsed, p.Metrics()) }, ct), ct);
        }
        catch (InvalidOperationException ex) when (request.Resume && TrainingState.LatestCheckpoint(outputDir) is not null)
        {
            // The checkpoint in output_dir belongs to a run with other data or options.
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"output_dir: {ex.Message}"));
        }

        await responseStream.WriteAsync(new PmTrainResponse
        {
            Result = new PmTrainResult
            {
                ModelPath = result.ModelDirectory,
                Steps = result.Steps,
                FinalLoss = result.FinalLoss,
                TrainAccuracy = trainAccuracy,
            },
        }, ct);
    }

    private (TrainingResult Result, double TrainAccuracy) TrainOnWorkerThread(string initModel, string outputDir, PmOptions trainerOptions,
        IReadOnlyList<PreferenceComparison> comparisons, IProgress<TrainingProgress> progress, CancellationToken cancellationToken)
    {
        if (options.Threads > 0) set_num_threads(options.Threads);
        return StageTraining.PreferenceModel(initModel, outputDir, trainerOptions, comparisons, progress, cancellationToken,
            options.ScoreBatchSize, options.CalibrationBins);
    }

    public override async Task<PmScoreResponse> Score(PmScoreRequest request, ServerCallContext context)
    {
        string model = RequireModel(request.Model);
        if (request.Texts.Count == 0) throw new ArgumentException("must hold at least one dialogue", "texts");
        if (request.Texts.Count > options.MaxScoreTexts)
            throw new ArgumentException($"holds {request.Texts.Count} dialogues; at most {options.MaxScoreTexts} per request", "texts");
        var dialogues = new Dialogue[request.Texts.Count];
        for (int i = 0; i < dialogues.Length; i++)
        {
            if (!Dialogue.TryParseResponse(request.Texts[i], out var d))
                throw new ArgumentException("must be a \"\\n\\nHuman: ...\\n\\nAssistant: ...\" dialogue ending with the assistant response to score", $"texts[{i}]");
            dialogues[i] = d!;
        }
        var scores = await models.UseAsync(model, scorer => scorer.Score(dialogues, context.CancellationToken), context.CancellationToken);
        return new PmScoreResponse { Scores = { scores } };
    }

    public override async Task<PmEvaluateResponse> Evaluate(PmEvaluateRequest request, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        string model = RequireModel(request.Model);
        if (string.IsNullOrWhiteSpace(request.File)) throw new ArgumentException("must name a two-choice file", "file");
        if (request.Limit < 0) throw new ArgumentException($"must be >= 0 (0 = the whole file); got {request.Limit}", "limit");
        string file = options.Resolve(request.File);
        if (!File.Exists(file)) throw new FileNotFoundException($"file: not found: {file}", file);
        bool hhRlhf = ComparisonFiles.IsHhRlhf(file);
        IReadOnlyList<ChoiceQuestion>? questions = null;
        IReadOnlyList<HhRlhfComparison>? comparisons = null;
        try
        {
            if (hhRlhf) comparisons = Limit(HhRlhfFile.Load(file, ct), request.Limit);
            else questions = Limit(ChoiceQuestionFile.Load(file, ct), request.Limit);
        }
        catch (DataFormatException ex)
        {
            throw new ArgumentException(ex.Message, "file", ex);
        }

        var evaluation = await models.UseAsync(model, scorer =>
        {
            var evaluator = new PreferenceModelEvaluator(scorer, options.CalibrationBins);
            return hhRlhf ? evaluator.EvaluateHhRlhf(comparisons!, ct) : evaluator.EvaluateChoiceQuestions(questions!, ct);
        }, ct);
        if (request.ReliabilityPng is { Length: > 0 } png)
            ReliabilityDiagram.Save(evaluation.Calibration, $"{Path.GetFileName(model)} on {Path.GetFileName(file)}", options.Resolve(png));
        return new PmEvaluateResponse
        {
            Count = evaluation.Pairs,
            Accuracy = evaluation.Accuracy,
            ExpectedCalibrationError = evaluation.Calibration.ExpectedCalibrationError,
        };
    }

    public override Task<ServiceInfo> Info(InfoRequest request, ServerCallContext context)
    {
        var info = ServiceInfoBuilder.Build("preference-model", Cai.Protos.V1.PreferenceModel.Descriptor, GetType());
        info.RedisConnected = redis.IsConnected;
        info.Device = "cpu";
        info.Details["training"] = jobs.Busy ? "busy" : "idle";
        info.Details["artifacts_root"] = options.ArtifactsRoot;
        info.Details["score_dtype"] = options.ScoreDtype.ToString();
        info.Details["max_loaded_models"] = options.MaxLoadedModels.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Task.FromResult(info);
    }

    private string RequireModel(string model) => string.IsNullOrWhiteSpace(model)
        ? throw new ArgumentException("must name a trained preference model folder", "model")
        : options.Resolve(model);

    private static IReadOnlyList<T> Limit<T>(IReadOnlyList<T> items, int limit) => limit > 0 && items.Count > limit ? [.. items.Take(limit)] : items;

    /// <summary>The trainer options of a request; each bad field is an <see cref="ArgumentException"/> naming it.</summary>
    private PmOptions Validate(PmTrainRequest request)
    {
        if (string.IsNullOrWhiteSpace(request.InitModel)) throw new ArgumentException("must name the language model whose trunk the PM starts from", "init_model");
        if (string.IsNullOrWhiteSpace(request.OutputDir)) throw new ArgumentException("must name the folder for checkpoints and the final model", "output_dir");
        if (request.DataFiles.Count == 0) throw new ArgumentException("must list at least one comparison file (AI comparisons or hh-rlhf)", "data_files");
        if (!(request.HelpfulRatio >= 0)) throw new ArgumentException($"must be >= 0 (0 = the service default); got {request.HelpfulRatio}", "helpful_ratio");
        if (request.Epochs < 0) throw new ArgumentException($"must be >= 0 (0 = the service default); got {request.Epochs}", "epochs");
        if (!(request.LearningRate >= 0) || double.IsInfinity(request.LearningRate))
            throw new ArgumentException($"must be finite and >= 0 (0 = the service default); got {request.LearningRate}", "learning_rate");
        if (request.BatchSize < 0) throw new ArgumentException($"must be >= 0 (0 = the service default); got {request.BatchSize}", "batch_size");
        var d = options.Defaults;
        return d with
        {
            HelpfulMixRatio = request.HelpfulRatio == 0 ? d.HelpfulMixRatio : request.HelpfulRatio,
            Epochs = request.Epochs == 0 ? d.Epochs : request.Epochs,
            LearningRate = request.LearningRate == 0 ? d.LearningRate : request.LearningRate,
            BatchSize = request.BatchSize == 0 ? d.BatchSize : request.BatchSize,
            ComputeDtype = request.Bf16 ? ScalarType.BFloat16 : d.ComputeDtype,
            Seed = request.Seed,
            ResumeFromCheckpoint = request.Resume,
        };
    }
}
