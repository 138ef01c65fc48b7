using Cai.World;

namespace Cai.Evaluation.Policies;

/// <summary>
/// An assistant under evaluation: it answers world prompts (the policy of a CAI stage, or a reference
/// policy used as a control). The evaluator judges what it says; how it answers is its own business.
/// </summary>
public interface IPolicy
{
    /// <summary>A short name for reports.</summary>
    string Name { get; }

    /// <summary>One response per prompt, in order: the assistant's turn only, without the prompt.</summary>
    IReadOnlyList<string> Respond(IReadOnlyList<WorldPrompt> prompts, CancellationToken cancellationToken = default);
}
