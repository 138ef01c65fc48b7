using System.Globalization;
using Cai.Core.Generation;
using Cai.Protos.V1;
using Grpc.Core;
using GenerationClient = Cai.Protos.V1.Generation.GenerationClient;

namespace Cai.Inference;

/// <summary>
/// A language model served by the generation service (<c>Generate</c> without token streaming, and <c>Score</c>):
/// how the stage services sample and score when the pipeline runs as microservices. A call's prompts are split
/// into requests of at most <see cref="InferenceOptions.RemoteBatchSize"/> (the service's per-request limit) that
/// are all sent at once, so the service's dynamic batcher sees every sequence together. Every call carries a
/// deadline of <see cref="InferenceOptions.CallTimeout"/>.
/// <para>
/// Reproducibility: the service runs a sampled request that carries a seed in a batch of its own, so each request
/// (chunk) is reproducible; chunk i gets a seed derived from the call's seed and i. Greedy decoding is per row.
/// </para>
/// </summary>
public sealed class GrpcTextModel : ILanguageModel
{
    private const string SeedStream = "grpc-text-model";
    private readonly GenerationClient _client;
    private readonly InferenceOptions _options;

    /// <param name="client">The generation service client.</param>
    /// <param name="model">Model folder as the generation service resolves it (absolute, or relative to its artifacts root).</param>
    /// <param name="options">Request size and deadline.</param>
    public GrpcTextModel(GenerationClient client, string model, InferenceOptions options)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrWhiteSpace(model);
        ArgumentNullException.ThrowIfNull(options);
        _client = client;
        Model = model;
        _options = options;
    }

    /// <inheritdoc />
    public string Model { get; }

    /// <inheritdoc />
    public async Task<IReadOnlyList<string>> CompleteAsync(
        IReadOnlyList<string> prompts, GenerationSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        ArgumentNullException.ThrowIfNull(settings);
        var errors = settings.Validate("settings");
        if (errors.Count > 0) throw new ArgumentException(string.Join("; ", errors), nameof(settings));
        var results = new string[prompts.Count];
        var calls = Chunks(prompts.Count).Select(async chunk =>
        {
            var request = new GenerateRequest
            {
                Model = Model,
                Prompts = { prompts.Skip(chunk.Start).Take(chunk.Count) },
                Sampling = Sampling(settings, chunk.Index),
                StreamTokens = false,
            };
            using var call = _client.Generate(request, deadline: Deadline(), cancellationToken: cancellationToken);
            await foreach (var response in call.ResponseStream.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                if (response.KindCase == GenerateResponse.KindOneofCase.Completion)
                    results[chunk.Start + response.Completion.PromptIndex] = response.Completion.Text;
            }
        });
        await Task.WhenAll(calls).ConfigureAwait(false);
        for (int i = 0; i < results.Length; i++)
        {
            if (results[i] is null) throw new InvalidOperationException($"the generation service returned no completion for prompt {i}");
        }
        return results;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<IReadOnlyList<double>>> ScoreAsync(
        IReadOnlyList<OptionScoringRequest> requests, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(requests);
        var results = new IReadOnlyList<double>[requests.Count];
        var calls = Chunks(requests.Count).Select(async chunk =>
        {
            var request = new ScoreRequest { Model = Model };
            foreach (var r in requests.Skip(chunk.Start).Take(chunk.Count))
                request.Items.Add(new ScoreItem { Prompt = r.Prompt, Continuations = { r.Continuations } });
            var response = await _client.ScoreAsync(request, deadline: Deadline(), cancellationToken: cancellationToken).ConfigureAwait(false);
            if (response.Items.Count != chunk.Count)
                throw new InvalidOperationException($"the generation service scored {response.Items.Count} items of {chunk.Count}");
            for (int i = 0; i < chunk.Count; i++)
                results[chunk.Start + i] = [.. response.Items[i].Continuations.Select(c => c.SumLogprob)];
        });
        await Task.WhenAll(calls).ConfigureAwait(false);
        return results;
    }

    private DateTime Deadline() => DateTime.UtcNow.Add(_options.CallTimeout);

    private IEnumerable<(int Index, int Start, int Count)> Chunks(int total)
    {
        for (int start = 0, index = 0; start < total; start += _options.RemoteBatchSize, index++)
            yield return (index, start, Math.Min(_options.RemoteBatchSize, total - start));
    }

    private static SamplingParams Sampling(GenerationSettings settings, int chunk)
    {
        var sampling = new SamplingParams
        {
            Temperature = (float)settings.Temperature,
            TopP = (float)settings.TopP,
            TopK = settings.TopK,
            MaxNewTokens = settings.MaxNewTokens,
            NumSamples = 1,
            Stop = { settings.StopSequences.Where(s => s.Length > 0) },
        };
        if (settings.Seed is { } seed)
        {
            ulong chunkSeed = chunk == 0 ? seed
                : DeterministicRandom.ForItem(seed, SeedStream, chunk.ToString(CultureInfo.InvariantCulture)).NextUInt64();
            // The service reads seed 0 as "not set".
            sampling.Seed = chunkSeed == 0 ? 1 : chunkSeed;
        }
        return sampling;
    }
}
