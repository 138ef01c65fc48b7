using Cai.Core.CritiqueRevision;
using Cai.Core.Dialogues;

namespace Cai.Training.Sft;

/// <summary>
/// One supervised fine-tuning example: a prompt dialogue (ending with a human turn) and the
/// assistant response to imitate. In SL-CAI: a red-team prompt with the final revision of the
/// model's own answer, or a helpfulness prompt with an ordinary helpful answer.
/// </summary>
public sealed record SftExample(Dialogue Prompt, string Response)
{
    /// <summary>SL-CAI's training pair from a critique/revision trace: the prompt and its final revision.</summary>
    public static SftExample FromTrace(CritiqueRevisionTrace trace)
    {
        ArgumentNullException.ThrowIfNull(trace);
        return new SftExample(trace.Prompt, trace.FinalResponse);
    }

    /// <summary>Throws when the prompt does not end with a human turn.</summary>
    public void Validate(string name)
    {
        if (Prompt is null) throw new ArgumentException($"{name}.Prompt is null.", name);
        if (!Prompt.EndsWithHuman) throw new ArgumentException($"{name}.Prompt must end with a human turn.", name);
        if (Response is null) throw new ArgumentException($"{name}.Response is null.", name);
    }
}

/// <summary>An encoded SFT example: prompt then response token ids, and how many leading ids are prompt.</summary>
public sealed record SftSequence(int[] InputIds, int PromptLength);
