using Cai.Modeling.Generation;
using Cai.World;

namespace Cai.Evaluation.Policies;

/// <summary>
/// A language model as the assistant: it samples its turn after the prompt in the paper's
/// "\n\nHuman: ... \n\nAssistant:" format, stopping where the turn ends.
/// </summary>
public sealed class LanguageModelPolicy(BatchedSampler sampler, SamplingOptions options, string name = "model") : IPolicy
{
    /// <summary>Where an assistant turn of the world ends: a blank line (the next turn, or the next
    /// section of a critique/revision prompt); EOS stops it too.</summary>
    public static readonly IReadOnlyList<string> TurnEnd = ["\n\n"];

    public string Name { get; } = name;

    public SamplingOptions Options { get; } = options with { StopStrings = [.. options.StopStrings.Union(TurnEnd)] };

    public IReadOnlyList<string> Respond(IReadOnlyList<WorldPrompt> prompts, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        return sampler.Complete(prompts.Select(p => p.Text).ToList(), Options, cancellationToken);
    }
}
