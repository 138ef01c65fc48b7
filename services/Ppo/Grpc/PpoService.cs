using Cai.Training.Jobs;
using System.Diagnostics;
using Cai.Core.Data;
using Cai.Modeling;
using Cai.Modeling.Tokenization;
using Cai.Protos.V1;
using Cai.ServiceDefaults;
using Cai.ServiceDefaults.Grpc;
using Cai.Training.Ppo;
using Cai.Training.PreferenceModel;
using Grpc.Core;
using static TorchSharp.torch;
using PpoResultMessage = Cai.Protos.V1.PpoResult;
using PpoRunResult = Cai.Training.Ppo.PpoResult;

namespace Cai.Services.Ppo.Grpc;

/// <summary>
/// The ppo service: RL-CAI's policy optimisation (<see cref="PpoTrainer"/>) of the SL-CAI policy against the
/// preference model's score with a KL penalty to the frozen SL-CAI model. <c>Train</c> streams one progress message
/// per PPO iteration, then the result; <c>Status</c> reports whether a job runs and its last progress. One job at a
/// time per replica; a client that goes away cancels the job (its checkpoints let <c>resume</c> continue).
/// </summary>
public sealed class PpoService(RedisConnection redis, PpoServiceOptions options, TrainingJobs jobs, PpoJobStatus status,
    ILogger<PpoService> logger) : Cai.Protos.V1.Ppo.PpoBase
{
    public override async Task Train(PpoTrainRequest request, IServerStreamWriter<PpoTrainResponse> responseStream, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        var trainerOptions = Validate(request) with { FrozenModelsDtype = options.FrozenModelsDtype };
        string policyModel = options.Resolve(request.PolicyModel);
        string rewardModel = options.Resolve(request.RewardModel);
        string outputDir = options.Resolve(request.OutputDir);
        if (!Directory.Exists(policyModel)) throw new DirectoryNotFoundException($"policy_model: model folder not found: {policyModel}");
        if (!Directory.Exists(rewardModel)) throw new DirectoryNotFoundException($"reward_model: model folder not found: {rewardModel}");
        var prompts = LoadPrompts(request.PromptFiles, ct);
        logger.LogInformation("PPO of {PolicyModel} against {RewardModel} on {Prompts} prompts into {OutputDir}",
            policyModel, rewardModel, prompts.Count, outputDir);

        var clock = Stopwatch.StartNew();
        var result = await jobs.RunAsync<PpoStepStats, PpoRunResult>(
            progress =>
            {
                // Only once the slot is ours, so a refused second call leaves the running job's status alone.
                status.Start(request.RunId);
                return TrainOnWorkerThread(policyModel, rewardModel, outputDir, trainerOptions, prompts, progress, ct);
            },
            s =>
            {
                var message = TrainingJobs.ToMessage("ppo", s.Iteration, s.TotalIterations, clock.Elapsed, Metrics(s));
                status.Report(message);
                return responseStream.WriteAsync(new PpoTrainResponse { Progress = message }, ct);
            }, ct);

        await responseStream.WriteAsync(new PpoTrainResponse
        {
            Result = new PpoResultMessage
            {
                ModelPath = result.OutputDirectory,
                Iterations = result.Iterations,
                FinalReward = result.Last?.MeanReward ?? double.NaN,
                FinalKl = result.Last?.Kl ?? double.NaN,
            },
        }, ct);
    }

    public override Task<PpoStatusResponse> Status(PpoStatusRequest request, ServerCallContext context)
    {
        var (runId, last) = status.Snapshot();
        // A question about another run than this replica's latest one: that run is not here.
        if (!string.IsNullOrEmpty(request.RunId) && request.RunId != runId)
            return Task.FromResult(new PpoStatusResponse { RunId = request.RunId, Running = false });
        var response = new PpoStatusResponse { RunId = runId, Running = jobs.Busy };
        if (last is not null) response.LastProgress = last;
        return Task.FromResult(response);
    }

    public override Task<ServiceInfo> Info(InfoRequest request, ServerCallContext context)
    {
        var info = ServiceInfoBuilder.Build("ppo", Cai.Protos.V1.Ppo.Descriptor, GetType());
        info.RedisConnected = redis.IsConnected;
        info.Device = "cpu";
        info.Details["training"] = jobs.Busy ? "busy" : "idle";
        info.Details["artifacts_root"] = options.ArtifactsRoot;
        info.Details["frozen_models_dtype"] = options.FrozenModelsDtype.ToString();
        return Task.FromResult(info);
    }

    /// <summary>The per-iteration statistics a client plots.</summary>
    private static Dictionary<string, double> Metrics(PpoStepStats s) => new()
    {
        ["reward"] = s.MeanReward,
        ["score"] = s.MeanScore,
        ["kl"] = s.Kl,
        ["kl_coef"] = s.KlCoefficient,
        ["entropy"] = s.Entropy,
        ["clip_fraction"] = s.ClipFraction,
        ["value_loss"] = s.ValueLoss,
        ["explained_variance"] = s.ExplainedVariance,
        ["response_length"] = s.MeanResponseLength,
    };

    private PpoRunResult TrainOnWorkerThread(string policyModel, string rewardModel, string outputDir, PpoOptions trainerOptions,
        IReadOnlyList<PromptRecord> prompts, IProgress<PpoStepStats> progress, CancellationToken cancellationToken)
    {
        if (options.Threads > 0) set_num_threads(options.Threads);
        return StageTraining.Ppo(policyModel, rewardModel, outputDir, trainerOptions, prompts, progress, cancellationToken);
    }

    /// <summary>Every prompt of the request's files, in order; a missing file is NOT_FOUND, a malformed one names the field.</summary>
    private List<PromptRecord> LoadPrompts(IEnumerable<string> files, CancellationToken cancellationToken)
    {
        var prompts = new List<PromptRecord>();
        foreach (var file in files)
        {
            string path = options.Resolve(file);
            if (!File.Exists(path)) throw new FileNotFoundException($"prompt_files: prompt file not found: {path}", path);
            try
            {
                prompts.AddRange(PromptFile.Load(path, cancellationToken));
            }
            catch (DataFormatException ex)
            {
                throw new ArgumentException(ex.Message, "prompt_files", ex);
            }
        }
        return prompts.Count > 0 ? prompts : throw new ArgumentException("hold no prompts", "prompt_files");
    }

    /// <summary>The trainer options of a request (0 = <see cref="PpoOptions"/>'s default); each bad field is an <see cref="ArgumentException"/> naming it.</summary>
    private static PpoOptions Validate(PpoTrainRequest request)
    {
        if (string.IsNullOrWhiteSpace(request.PolicyModel)) throw new ArgumentException("must name the SL-CAI model to optimise", "policy_model");
        if (string.IsNullOrWhiteSpace(request.RewardModel)) throw new ArgumentException("must name the preference model that scores responses", "reward_model");
        if (string.IsNullOrWhiteSpace(request.OutputDir)) throw new ArgumentException("must name the folder for checkpoints and the final policy", "output_dir");
        if (request.PromptFiles.Count == 0 || request.PromptFiles.Any(string.IsNullOrWhiteSpace))
            throw new ArgumentException("must name one or more JSONL prompt files (this service does not read the run's prompt stream)", "prompt_files");
        if (request.Iterations < 0) throw new ArgumentException($"must be >= 0 (0 = the default); got {request.Iterations}", "iterations");
        if (request.PromptsPerIteration < 0) throw new ArgumentException($"must be >= 0 (0 = the default); got {request.PromptsPerIteration}", "prompts_per_iteration");
        if (request.MaxNewTokens < 0) throw new ArgumentException($"must be >= 0 (0 = the default); got {request.MaxNewTokens}", "max_new_tokens");
        if (!(request.LearningRate >= 0) || double.IsInfinity(request.LearningRate))
            throw new ArgumentException($"must be finite and >= 0 (0 = the default); got {request.LearningRate}", "learning_rate");
        if (!(request.KlCoef >= 0) || double.IsInfinity(request.KlCoef))
            throw new ArgumentException($"must be finite and >= 0 (0 = the default); got {request.KlCoef}", "kl_coef");
        if (!(request.KlTarget >= 0) || double.IsInfinity(request.KlTarget))
            throw new ArgumentException($"must be finite and >= 0 (0 = a fixed coefficient); got {request.KlTarget}", "kl_target");

        if (request.PpoEpochs < 0) throw new ArgumentException($"must be >= 0 (0 = the default); got {request.PpoEpochs}", "ppo_epochs");
        return StageTraining.PpoOptionsFor(request.Iterations, request.PromptsPerIteration, request.MaxNewTokens, request.LearningRate,
            request.KlCoef, request.KlTarget, request.PpoEpochs, request.Seed, request.Resume);
    }
}
