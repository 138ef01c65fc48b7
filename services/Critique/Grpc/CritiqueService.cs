using Cai.Core.Constitutions;
using Cai.Core.CritiqueRevision;
using Cai.Inference;
using Cai.Protos.V1;
using Cai.ServiceDefaults;
using Cai.ServiceDefaults.Grpc;
using Grpc.Core;

namespace Cai.Services.Critique.Grpc;

/// <summary>
/// The critique service: SL-CAI's critique/revision loop (<see cref="CritiqueRevisionLoop"/>) for one prompt at a
/// time, for any gRPC client. The batched work over a run's prompts is the stream worker's
/// (<see cref="Workers.CritiqueWorker"/>). Every invalid field is an <see cref="ArgumentException"/> named by its
/// proto field, which the exception interceptor returns as INVALID_ARGUMENT.
/// </summary>
public sealed class CritiqueService(
    RedisConnection redis, CritiqueOptions options, LanguageModelFactory models, ConstitutionCache constitutions)
    : Cai.Protos.V1.Critique.CritiqueBase
{
    public override async Task<CritiqueReviseResponse> CritiqueRevise(CritiqueReviseRequest request, ServerCallContext context)
    {
        if (string.IsNullOrWhiteSpace(request.PromptId)) throw new ArgumentException("must not be empty", "prompt_id");
        var prompt = StageStreams.ParsePrompt(request.Prompt, "prompt");
        if (request.Rounds < 0 || request.Rounds > options.MaxRounds)
            throw new ArgumentException($"must be in [0, {options.MaxRounds}] (0 = the service default, {options.Rounds}); got {request.Rounds}", "rounds");
        if (request.FewShot < -1) throw new ArgumentException($"must be >= 0, or -1 for the service default; got {request.FewShot}", "few_shot");
        string modelName = request.Model is { Length: > 0 } m ? m
            : options.Model is { Length: > 0 } d ? d
            : throw new ArgumentException("is empty and the service has no default model (Critique:Model)", "model");
        var constitution = LoadConstitution(request.Constitution);
        int fewShot = request.FewShot == -1 ? options.FewShotExamples : request.FewShot;
        if (fewShot > constitution.CritiqueRevisionExamples.Count)
            throw new ArgumentException($"is {fewShot} but constitution '{constitution.Name}' has {constitution.CritiqueRevisionExamples.Count} critique/revision examples", "few_shot");
        var sampling = SamplingMapping.ToSettings(request.Sampling, options.Sampling);

        var loop = new CritiqueRevisionLoop(models.Get(modelName), constitution, new CritiqueRevisionOptions
        {
            Rounds = request.Rounds == 0 ? options.Rounds : request.Rounds,
            FewShotExamples = fewShot,
            DirectRevision = request.ReviseDirectly,
            Seed = request.Seed,
            BatchSize = 1,
            ResponseSettings = sampling,
            CritiqueSettings = sampling,
            RevisionSettings = sampling,
        });
        var trace = (await loop.RunAsync([new(request.PromptId, prompt, null)], null, context.CancellationToken))[0];

        var response = new CritiqueReviseResponse
        {
            PromptId = trace.PromptId,
            InitialResponse = trace.InitialResponse,
            FinalRevision = trace.FinalResponse,
        };
        foreach (var round in trace.Rounds)
        {
            var principle = constitution.GetCritiqueRevisionPrinciple(round.PrincipleId);
            response.Rounds.Add(new CritiqueRound
            {
                PrincipleId = round.PrincipleId,
                CritiqueRequest = request.ReviseDirectly ? "" : principle.CritiqueRequest,
                Critique = round.Critique ?? "",
                RevisionRequest = principle.RevisionRequest,
                Revision = round.Revision,
            });
        }
        return response;
    }

    public override Task<ServiceInfo> Info(InfoRequest request, ServerCallContext context)
    {
        var info = ServiceInfoBuilder.Build("critique", Cai.Protos.V1.Critique.Descriptor, GetType());
        info.RedisConnected = redis.IsConnected;
        info.Details["inference"] = models.IsRemote ? "generation service" : "in-process";
        info.Details["default_model"] = options.Model;
        info.Details["constitution"] = options.Constitution;
        info.Details["worker_batch_size"] = options.BatchSize.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Task.FromResult(info);
    }

    private Constitution LoadConstitution(string requested)
    {
        try
        {
            return constitutions.Get(requested is { Length: > 0 } ? requested : options.Constitution);
        }
        catch (ConstitutionFormatException ex)
        {
            throw new ArgumentException(ex.Message, "constitution", ex);
        }
    }
}
