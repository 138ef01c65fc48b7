using Cai.Modeling.Generation;
using Cai.Modeling.Tokenization;
using Cai.Protos.V1;

namespace Cai.Services.Generation.Grpc;

/// <summary>
/// Checks requests against the contract and the service's limits, and turns them into the model
/// core's inputs. Every rejection is an <see cref="ArgumentException"/> whose parameter name is the
/// proto field path ("sampling.top_p", "prompts[2]"), which the exception interceptor returns as
/// INVALID_ARGUMENT naming that field.
/// </summary>
public static class RequestValidation
{
    /// <summary>The sampling settings of a Generate request, after checking every field that needs no model.</summary>
    public static SamplingOptions Generate(GenerateRequest request, GenerationOptions limits)
    {
        RequireModel(request.Model);
        if (request.Prompts.Count == 0) throw new ArgumentException("At least one prompt is required.", "prompts");
        for (int i = 0; i < request.Prompts.Count; i++)
            if (request.Prompts[i].Length == 0) throw new ArgumentException("The prompt is empty.", $"prompts[{i}]");

        var s = request.Sampling ?? new SamplingParams();
        if (!(float.IsFinite(s.Temperature) && s.Temperature >= 0))
            throw new ArgumentException($"Must be finite and >= 0 (0 = greedy); got {s.Temperature}.", "sampling.temperature");
        if (!(s.TopP >= 0 && s.TopP <= 1)) // NaN fails both
            throw new ArgumentException($"Must be in (0, 1], or 0 for unset; got {s.TopP}.", "sampling.top_p");
        if (s.TopK < 0) throw new ArgumentException($"Must be >= 0 (0 = unset); got {s.TopK}.", "sampling.top_k");
        if (s.MaxNewTokens < 0 || s.MaxNewTokens > limits.MaxNewTokens)
            throw new ArgumentException($"Must be in [0, {limits.MaxNewTokens}] (0 = the service default, {limits.DefaultMaxNewTokens}); got {s.MaxNewTokens}.", "sampling.max_new_tokens");
        if (s.NumSamples < 0 || s.NumSamples > limits.MaxBatchSize)
            throw new ArgumentException($"Must be in [0, {limits.MaxBatchSize}] (0 = 1); got {s.NumSamples}.", "sampling.num_samples");
        for (int i = 0; i < s.Stop.Count; i++)
            if (s.Stop[i].Length == 0) throw new ArgumentException("A stop string must not be empty.", $"sampling.stop[{i}]");

        int samples = Math.Max(1, s.NumSamples);
        if ((long)request.Prompts.Count * samples > limits.MaxBatchSize)
            throw new ArgumentException(
                $"{request.Prompts.Count} prompts x {samples} samples exceed the batch limit of {limits.MaxBatchSize} sequences per request; split the request.", "prompts");

        return new SamplingOptions
        {
            Temperature = s.Temperature,
            TopP = s.TopP == 0 ? 1f : s.TopP,
            TopK = s.TopK,
            MaxNewTokens = s.MaxNewTokens == 0 ? limits.DefaultMaxNewTokens : s.MaxNewTokens,
            SamplesPerPrompt = samples,
            // proto3 cannot tell 0 from unset: 0 draws a fresh seed.
            Seed = s.Seed == 0 ? null : unchecked((long)s.Seed),
            StopStrings = s.Stop.ToArray(),
        }.Validate();
    }

    /// <summary>Encodes the prompts (with the tokenizer's special tokens) and checks their lengths.</summary>
    public static int[][] EncodePrompts(GenerateRequest request, SamplingOptions sampling, ITokenizer tokenizer, int contextLength, GenerationOptions limits)
    {
        var prompts = new int[request.Prompts.Count][];
        for (int i = 0; i < prompts.Length; i++)
        {
            prompts[i] = tokenizer.Encode(request.Prompts[i]);
            CheckPromptLength(prompts[i].Length, $"prompts[{i}]", limits);
            if (prompts[i].Length + sampling.MaxNewTokens > contextLength)
                throw new ArgumentException(
                    $"{prompts[i].Length} prompt tokens + max_new_tokens {sampling.MaxNewTokens} exceed the model's context of {contextLength} tokens.", $"prompts[{i}]");
        }
        return prompts;
    }

    /// <summary>Checks the fields of a Score request that need no model.</summary>
    public static void Score(ScoreRequest request)
    {
        RequireModel(request.Model);
        if (request.Items.Count == 0) throw new ArgumentException("At least one item is required.", "items");
        for (int i = 0; i < request.Items.Count; i++)
        {
            var item = request.Items[i];
            if (item.Prompt.Length == 0) throw new ArgumentException("The prompt is empty.", $"items[{i}].prompt");
            if (item.Continuations.Count == 0) throw new ArgumentException("At least one continuation is required.", $"items[{i}].continuations");
            for (int j = 0; j < item.Continuations.Count; j++)
                if (item.Continuations[j].Length == 0) throw new ArgumentException("The continuation is empty.", $"items[{i}].continuations[{j}]");
        }
    }

    /// <summary>(prompt, continuation) token pairs in request order, and the continuation count of each item.
    /// Prompts get the tokenizer's special tokens, continuations none (as the model core's Scorer does for text).</summary>
    public static (List<(int[] Prompt, int[] Continuation)> Pairs, int[] PerItem) EncodeScore(
        ScoreRequest request, ITokenizer tokenizer, int contextLength, GenerationOptions limits)
    {
        var pairs = new List<(int[], int[])>();
        var perItem = new int[request.Items.Count];
        for (int i = 0; i < request.Items.Count; i++)
        {
            var item = request.Items[i];
            var prompt = tokenizer.Encode(item.Prompt);
            CheckPromptLength(prompt.Length, $"items[{i}].prompt", limits);
            for (int j = 0; j < item.Continuations.Count; j++)
            {
                var continuation = tokenizer.Encode(item.Continuations[j], addSpecialTokens: false);
                if (continuation.Length == 0)
                    throw new ArgumentException("The continuation encodes to no tokens.", $"items[{i}].continuations[{j}]");
                if (prompt.Length + continuation.Length > contextLength)
                    throw new ArgumentException(
                        $"{prompt.Length} prompt + {continuation.Length} continuation tokens exceed the model's context of {contextLength} tokens.", $"items[{i}].continuations[{j}]");
                pairs.Add((prompt, continuation));
            }
            perItem[i] = item.Continuations.Count;
        }
        return (pairs, perItem);
    }

    private static void RequireModel(string model)
    {
        if (string.IsNullOrWhiteSpace(model))
            throw new ArgumentException("Name a model folder (absolute, or relative to the artifacts root).", "model");
    }

    private static void CheckPromptLength(int tokens, string field, GenerationOptions limits)
    {
        if (tokens > limits.MaxPromptTokens)
            throw new ArgumentException($"The prompt has {tokens} tokens; the limit is {limits.MaxPromptTokens}.", field);
    }
}
