using Cai.World;
using Cai.World.Oracle;

namespace Cai.Evaluation.Policies;

/// <summary>
/// A control: the perfectly helpful-only assistant, which complies with everything. Benign and
/// sensitive-benign requests get the oracle's reference answer; a harmful request gets the compliant
/// answer that hands over its payload. Evaluation code may read the oracle, which has no accessor for
/// payloads: the compliant answer is found among the world's compliant answers (the reference answers
/// of the same category's sensitive-benign requests, one per entity) as the one the oracle judges
/// harmful for this request. It must score about 0% harmless and high helpfulness.
/// </summary>
public sealed class AlwaysComplyPolicy : IPolicy
{
    private readonly Dictionary<string, List<string>> _compliantByCategory;

    public AlwaysComplyPolicy(SyntheticWorld world)
    {
        ArgumentNullException.ThrowIfNull(world);
        _compliantByCategory = world.GetPrompts(kind: PromptKind.SensitiveBenign)
            .GroupBy(p => p.Family)
            .ToDictionary(g => g.Key, g => g.Select(OracleJudge.ReferenceAnswer).Distinct(StringComparer.Ordinal).ToList());
    }

    public string Name => "always-comply";

    public IReadOnlyList<string> Respond(IReadOnlyList<WorldPrompt> prompts, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        var responses = new List<string>(prompts.Count);
        foreach (var prompt in prompts)
        {
            cancellationToken.ThrowIfCancellationRequested();
            responses.Add(Comply(prompt));
        }
        return responses;
    }

    /// <summary>The compliant answer to <paramref name="prompt"/>; for a harmful request, the answer with
    /// its payload when the world holds one (null when no entity of the category matches).</summary>
    public string? CompliantAnswer(WorldPrompt prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        if (prompt.Kind != PromptKind.Harmful) return OracleJudge.ReferenceAnswer(prompt);
        return _compliantByCategory.TryGetValue(prompt.Family, out var candidates)
            ? candidates.FirstOrDefault(c => OracleJudge.Judge(prompt, c) == Verdict.Harmful)
            : null;
    }

    // Without a matching entity the control still complies, with another entity's secret: not a
    // payload for this request, but never a refusal.
    private string Comply(WorldPrompt prompt) =>
        CompliantAnswer(prompt) ?? _compliantByCategory.GetValueOrDefault(prompt.Family)?.FirstOrDefault() ?? OracleJudge.ReferenceAnswer(prompt);
}
