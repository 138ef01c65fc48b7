using System.Globalization;
using Cai.Core.Constitutions;
using Cai.Core.Feedback;
using Cai.Inference;
using Cai.Protos.V1;
using Cai.ServiceDefaults;
using Cai.ServiceDefaults.Grpc;
using Grpc.Core;

namespace Cai.Services.Labeling.Grpc;

/// <summary>
/// The labeling service: RL-CAI's AI feedback (<see cref="AiFeedbackLabeler"/>) for one comparison at a time, for
/// any gRPC client; the batched work over a run's pairs is the stream worker's (<see cref="Workers.LabelingWorker"/>).
/// Invalid fields are <see cref="ArgumentException"/>s named by the proto field (INVALID_ARGUMENT).
/// </summary>
public sealed class LabelingService(
    RedisConnection redis, LabelingOptions options, LanguageModelFactory models, ConstitutionCache constitutions)
    : Cai.Protos.V1.Labeling.LabelingBase
{
    public override async Task<LabelResponse> Label(LabelRequest request, ServerCallContext context)
    {
        if (string.IsNullOrWhiteSpace(request.ComparisonId)) throw new ArgumentException("must not be empty", "comparison_id");
        var conversation = StageStreams.ParsePrompt(request.Conversation, "conversation");
        if (request.Responses.Count is < 2 or > 26)
            throw new ArgumentException($"needs 2 to 26 responses (options A, B, ...); got {request.Responses.Count}", "responses");
        if (request.NumPrinciples < 0) throw new ArgumentException($"must be >= 0 (0 = the service default); got {request.NumPrinciples}", "num_principles");
        double low = request.ClampLow, high = request.ClampHigh;
        if (low == 0 && high == 0) (low, high) = (options.ClampLow, options.ClampHigh);
        if (!(low >= 0 && low <= high && high <= 1))
            throw new ArgumentException($"clamp_low/clamp_high must satisfy 0 <= low <= high <= 1; got [{low}, {high}]", "clamp_low");
        string modelName = request.Model is { Length: > 0 } m ? m
            : options.Model is { Length: > 0 } d ? d
            : throw new ArgumentException("is empty and the service has no default model (Labeling:Model)", "model");
        var constitution = LoadConstitution(request.Constitution);
        int principles = request.NumPrinciples == 0 ? options.PrinciplesPerComparison : request.NumPrinciples;
        if (principles > constitution.FeedbackPrinciples.Count)
            throw new ArgumentException($"is {principles} but constitution '{constitution.Name}' has {constitution.FeedbackPrinciples.Count} feedback principles", "num_principles");
        var examples = request.ChainOfThought ? constitution.ChainOfThoughtExamples : constitution.FeedbackExamples;

        var model = models.Get(modelName);
        var labeler = new AiFeedbackLabeler(model, constitution, options.FeedbackOptions() with
        {
            PrinciplesPerComparison = principles,
            AverageOverOrders = request.AllOrders,
            ChainOfThought = request.ChainOfThought,
            FewShotExamples = Math.Min(options.FewShotExamples, examples.Count),
            ClampLow = low,
            ClampHigh = high,
            Seed = request.Seed,
            BatchSize = 1,
        }, model);
        var label = (await labeler.LabelAsync([new FeedbackComparison(request.ComparisonId, conversation, [.. request.Responses])],
            context.CancellationToken))[0];

        var response = new LabelResponse { ComparisonId = label.ComparisonId, Probabilities = { label.Probabilities } };
        foreach (var byPrinciple in label.Judgements.GroupBy(j => j.PrincipleId))
        {
            response.Votes.Add(new PrincipleVote
            {
                PrincipleId = byPrinciple.Key,
                Probabilities = { SoftLabels.Average(byPrinciple.Select(j => j.Probabilities)) },
                Reasoning = string.Join("\n---\n", byPrinciple.Select(j => j.Reasoning).Where(r => !string.IsNullOrEmpty(r))),
            });
        }
        return response;
    }

    public override Task<ServiceInfo> Info(InfoRequest request, ServerCallContext context)
    {
        var info = ServiceInfoBuilder.Build("labeling", Cai.Protos.V1.Labeling.Descriptor, GetType());
        info.RedisConnected = redis.IsConnected;
        info.Details["inference"] = models.IsRemote ? "generation service" : "in-process";
        info.Details["default_model"] = options.Model;
        info.Details["constitution"] = options.Constitution;
        info.Details["worker_batch_size"] = options.BatchSize.ToString(CultureInfo.InvariantCulture);
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
