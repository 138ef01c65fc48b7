using System.Text.Json;
using System.Text.RegularExpressions;
using Cai.Core.Dialogues;
using Cai.Core.Prompts;

namespace Cai.Core.Constitutions;

/// <summary>
/// Imports the prompt files published with the Constitutional AI paper (Bai et al. 2022) into the project's
/// <see cref="Constitution"/> model, so a run can use the paper's own principles and demonstrations:
/// CritiqueRevisionInstructions.json, CritiqueRevisionFewShotPrompts.json, RLMadisonInstructions.json,
/// RLMadisonFewShotPrompts.json and RLMadisonPrecogFewShotPrompts.json (chain-of-thought demonstrations).
/// Format markers are stripped: the model holds bare request and principle texts.
/// </summary>
public static partial class PaperConstitutionImporter
{
    /// <summary>File name of the critique/revision principle pairs.</summary>
    public const string CritiqueRevisionInstructionsFile = "CritiqueRevisionInstructions.json";

    /// <summary>File name of the critique/revision demonstrations.</summary>
    public const string CritiqueRevisionFewShotFile = "CritiqueRevisionFewShotPrompts.json";

    /// <summary>File name of the feedback (comparison) principles.</summary>
    public const string FeedbackInstructionsFile = "RLMadisonInstructions.json";

    /// <summary>File name of the multiple-choice feedback demonstrations.</summary>
    public const string FeedbackFewShotFile = "RLMadisonFewShotPrompts.json";

    /// <summary>File name of the chain-of-thought feedback demonstrations.</summary>
    public const string ChainOfThoughtFewShotFile = "RLMadisonPrecogFewShotPrompts.json";

    /// <summary>
    /// Imports a directory holding the paper's files. The two instruction files are required; a missing
    /// few-shot file leaves its list empty.
    /// </summary>
    /// <exception cref="FileNotFoundException">A required file is missing.</exception>
    /// <exception cref="ConstitutionFormatException">A file is malformed.</exception>
    public static Constitution ImportDirectory(string directory, string name = "cai-paper")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        string PathOf(string file) => Path.Combine(directory, file);
        string Required(string file) => File.Exists(PathOf(file))
            ? PathOf(file)
            : throw new FileNotFoundException($"the paper's file {file} is missing from {directory}", PathOf(file));

        var crPrinciples = ReadCritiqueRevisionInstructions(Required(CritiqueRevisionInstructionsFile));
        var fbPrinciples = ReadFeedbackInstructions(Required(FeedbackInstructionsFile));
        var crExamples = File.Exists(PathOf(CritiqueRevisionFewShotFile))
            ? ReadCritiqueRevisionFewShot(PathOf(CritiqueRevisionFewShotFile)) : [];
        var fbExamples = File.Exists(PathOf(FeedbackFewShotFile))
            ? ReadFeedbackFewShot(PathOf(FeedbackFewShotFile)) : [];
        var cotExamples = File.Exists(PathOf(ChainOfThoughtFewShotFile))
            ? ReadChainOfThoughtFewShot(PathOf(ChainOfThoughtFewShotFile)) : [];
        return new Constitution(name, "Imported from the prompt files published with the Constitutional AI paper.",
            crPrinciples, fbPrinciples, crExamples, fbExamples, cotExamples);
    }

    /// <summary>Reads CritiqueRevisionInstructions.json: an object of id -> {"prompt": [critique request], "edit_request"}.</summary>
    public static IReadOnlyList<CritiqueRevisionPrinciple> ReadCritiqueRevisionInstructions(string path)
    {
        using var doc = ReadJson(path);
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new ConstitutionFormatException(path, "document", "(root)", "must be a JSON object of id -> principle");
        }

        var result = new List<CritiqueRevisionPrinciple>();
        foreach (var property in doc.RootElement.EnumerateObject())
        {
            var entry = $"'{property.Name}'";
            var prompt = property.Value.ValueKind == JsonValueKind.Object
                && property.Value.TryGetProperty("prompt", out var p) ? p : default;
            var critique = prompt.ValueKind switch
            {
                JsonValueKind.Array when prompt.GetArrayLength() > 0 && prompt[0].ValueKind == JsonValueKind.String => prompt[0].GetString()!,
                JsonValueKind.String => prompt.GetString()!,
                _ => throw new ConstitutionFormatException(path, entry, "prompt", "must be a list holding the critique request"),
            };
            var edit = GetString(property.Value, "edit_request", path, entry);
            result.Add(new CritiqueRevisionPrinciple(property.Name,
                StripMarkers(critique, PromptFormat.CritiqueRequestMarker, PromptFormat.CritiqueMarker, path, entry, "prompt"),
                StripMarkers(edit, PromptFormat.RevisionRequestMarker, PromptFormat.RevisionMarker, path, entry, "edit_request")));
        }

        return result.Count > 0 ? result
            : throw new ConstitutionFormatException(path, "document", "(root)", "holds no principles");
    }

    /// <summary>
    /// Reads CritiqueRevisionFewShotPrompts.json: a list of texts, each a conversation followed by one
    /// CritiqueRequest/Critique/RevisionRequest/Revision round.
    /// </summary>
    public static IReadOnlyList<CritiqueRevisionExample> ReadCritiqueRevisionFewShot(string path)
    {
        using var doc = ReadJson(path);
        var result = new List<CritiqueRevisionExample>();
        foreach (var (text, index) in StringArray(doc, path))
        {
            var entry = $"[{index}]";
            var sections = SplitSections(text,
                [PromptFormat.CritiqueRequestMarker, PromptFormat.CritiqueMarker, PromptFormat.RevisionRequestMarker, PromptFormat.RevisionMarker],
                path, entry);

            // The demonstration's revision may be followed by the opening of the next conversation ("\n\nHuman:").
            var revision = sections[4];
            int next = revision.IndexOf(DialogueFormat.TurnSeparator + DialogueFormat.HumanMarker, StringComparison.Ordinal);
            if (next >= 0)
            {
                revision = revision[..next];
            }

            if (!Dialogue.TryParse(sections[0], out var dialogue) || dialogue!.LastTurn?.Role != Role.Assistant)
            {
                throw new ConstitutionFormatException(path, entry, "(conversation)",
                    "must be a Human/Assistant conversation ending with the assistant response being critiqued");
            }

            var (prompt, response) = dialogue.SplitLastResponse();
            if (!prompt.EndsWithHuman)
            {
                throw new ConstitutionFormatException(path, entry, "(conversation)", "must have a human turn before the response");
            }

            result.Add(new CritiqueRevisionExample($"paper-example{index}", prompt, response,
                sections[1].Trim(), sections[2].Trim(), sections[3].Trim(), revision.Trim()));
        }

        return result;
    }

    /// <summary>Reads RLMadisonInstructions.json: a list of principle texts ending with "Options:".</summary>
    public static IReadOnlyList<FeedbackPrinciple> ReadFeedbackInstructions(string path)
    {
        using var doc = ReadJson(path);
        var result = new List<FeedbackPrinciple>();
        foreach (var (text, index) in StringArray(doc, path))
        {
            var principle = text.Trim();
            if (principle.EndsWith(PromptFormat.OptionsMarker, StringComparison.Ordinal))
            {
                principle = principle[..^PromptFormat.OptionsMarker.Length].TrimEnd();
            }

            if (principle.Length == 0)
            {
                throw new ConstitutionFormatException(path, $"[{index}]", "(text)", "is empty");
            }

            result.Add(new FeedbackPrinciple($"paper-feedback{index}", principle));
        }

        return result.Count > 0 ? result
            : throw new ConstitutionFormatException(path, "document", "(root)", "holds no principles");
    }

    /// <summary>
    /// Reads RLMadisonFewShotPrompts.json: a list of {"prompt", "corrects", "incorrects"}. Each becomes a two-option
    /// demonstration from the first correct and first incorrect answer; the correct answer is placed at (A) for
    /// even entries and (B) for odd ones so the demonstrations do not teach a position bias.
    /// </summary>
    public static IReadOnlyList<FeedbackExample> ReadFeedbackFewShot(string path)
    {
        using var doc = ReadJson(path);
        if (doc.RootElement.ValueKind != JsonValueKind.Array)
        {
            throw new ConstitutionFormatException(path, "document", "(root)", "must be a JSON list");
        }

        var result = new List<FeedbackExample>();
        int index = 0;
        foreach (var item in doc.RootElement.EnumerateArray())
        {
            var entry = $"[{index}]";
            var promptText = GetString(item, "prompt", path, entry);
            if (!Dialogue.TryParse(promptText, out var conversation) || !conversation!.EndsWithHuman)
            {
                throw new ConstitutionFormatException(path, entry, "prompt", "must be a Human/Assistant conversation ending with a human turn");
            }

            var correct = FirstString(item, "corrects", path, entry);
            var incorrect = FirstString(item, "incorrects", path, entry);
            bool correctFirst = index % 2 == 0;
            result.Add(new FeedbackExample($"paper-feedback-example{index}", conversation, null,
                correctFirst ? [correct, incorrect] : [incorrect, correct], correctFirst ? 0 : 1, null));
            index++;
        }

        return result;
    }

    /// <summary>
    /// Reads RLMadisonPrecogFewShotPrompts.json: a list of {"prompt"} texts, each a conversation in H:/A: form,
    /// a "{}" slot for the principle, options "(A) [[[...]]]", reasoning after "Let's think step by step:" and a
    /// final "the answer is: (X)".
    /// </summary>
    public static IReadOnlyList<FeedbackExample> ReadChainOfThoughtFewShot(string path)
    {
        using var doc = ReadJson(path);
        if (doc.RootElement.ValueKind != JsonValueKind.Array)
        {
            throw new ConstitutionFormatException(path, "document", "(root)", "must be a JSON list");
        }

        var result = new List<FeedbackExample>();
        int index = 0;
        foreach (var item in doc.RootElement.EnumerateArray())
        {
            var entry = $"[{index}]";
            var text = GetString(item, "prompt", path, entry);

            int header = text.IndexOf("Consider the following conversation", StringComparison.Ordinal);
            int slot = text.IndexOf("\n\n{}", StringComparison.Ordinal);
            int convStart = header < 0 ? -1 : text.IndexOf('\n', header);
            if (convStart < 0 || slot < convStart)
            {
                throw new ConstitutionFormatException(path, entry, "prompt",
                    "must hold 'Consider the following conversation ...', the conversation, and a '{}' principle slot");
            }

            // The demonstrations abbreviate the speakers as H:/A:; map them to the project's markers.
            var conversationText = (DialogueFormat.TurnSeparator + text[convStart..slot].Trim())
                .Replace("\n\nH:", "\n\n" + DialogueFormat.HumanMarker, StringComparison.Ordinal)
                .Replace("\n\nA:", "\n\n" + DialogueFormat.AssistantMarker, StringComparison.Ordinal);
            if (!Dialogue.TryParse(conversationText, out var conversation) || !conversation!.EndsWithHuman)
            {
                throw new ConstitutionFormatException(path, entry, "prompt", "has a conversation that does not end with a human (H:) turn");
            }

            var options = OptionPattern().Matches(text).Select(m => m.Groups["text"].Value.Trim()).ToList();
            if (options.Count < 2)
            {
                throw new ConstitutionFormatException(path, entry, "prompt", "must hold at least two options '(A) [[[...]]]'");
            }

            int think = text.IndexOf(PromptFormat.ChainOfThoughtMarker, StringComparison.Ordinal);
            int human = text.LastIndexOf(DialogueFormat.TurnSeparator + DialogueFormat.HumanMarker, StringComparison.Ordinal);
            var answers = AnswerPattern().Matches(text);
            if (think < 0 || human < think || answers.Count == 0)
            {
                throw new ConstitutionFormatException(path, entry, "prompt",
                    "must hold \"Let's think step by step:\" reasoning, then a final human turn with 'the answer is: (X)'");
            }

            int answerIndex = answers[^1].Groups["letter"].Value[0] - 'A';
            if (answerIndex >= options.Count)
            {
                throw new ConstitutionFormatException(path, entry, "prompt", $"answers option {answers[^1].Value}, which does not exist");
            }

            var reasoning = text[(think + PromptFormat.ChainOfThoughtMarker.Length)..human].Trim();
            result.Add(new FeedbackExample($"paper-cot-example{index}", conversation, null, options, answerIndex, reasoning));
            index++;
        }

        return result;
    }

    [GeneratedRegex(@"\((?<letter>[A-Z])\)\s*\[\[\[(?<text>.*?)\]\]\]", RegexOptions.Singleline)]
    private static partial Regex OptionPattern();

    [GeneratedRegex(@"answer is:\s*\((?<letter>[A-Z])\)", RegexOptions.IgnoreCase)]
    private static partial Regex AnswerPattern();

    private static JsonDocument ReadJson(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        try
        {
            return JsonDocument.Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new ConstitutionFormatException(path, $"line {e.LineNumber + 1}", "(syntax)", $"could not be read: {e.Message}", e);
        }
    }

    private static IEnumerable<(string Text, int Index)> StringArray(JsonDocument doc, string path)
    {
        if (doc.RootElement.ValueKind != JsonValueKind.Array)
        {
            throw new ConstitutionFormatException(path, "document", "(root)", "must be a JSON list of strings");
        }

        int index = 0;
        foreach (var item in doc.RootElement.EnumerateArray())
        {
            yield return item.ValueKind == JsonValueKind.String
                ? (item.GetString()!, index)
                : throw new ConstitutionFormatException(path, $"[{index}]", "(text)", "must be a string");
            index++;
        }
    }

    private static string GetString(JsonElement element, string field, string path, string entry) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(field, out var value)
            && value.ValueKind == JsonValueKind.String && !string.IsNullOrWhiteSpace(value.GetString())
            ? value.GetString()!
            : throw new ConstitutionFormatException(path, entry, field, "is missing, not a string, or empty");

    private static string FirstString(JsonElement element, string field, string path, string entry) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(field, out var value)
            && value.ValueKind == JsonValueKind.Array && value.GetArrayLength() > 0
            && value[0].ValueKind == JsonValueKind.String && !string.IsNullOrWhiteSpace(value[0].GetString())
            ? value[0].GetString()!.Trim()
            : throw new ConstitutionFormatException(path, entry, field, "must be a list holding at least one non-empty string");

    private static string StripMarkers(string text, string open, string close, string path, string entry, string field)
    {
        var t = text.Trim();
        if (!t.StartsWith(open, StringComparison.Ordinal) || !t.EndsWith(close, StringComparison.Ordinal)
            || t.Length <= open.Length + close.Length)
        {
            throw new ConstitutionFormatException(path, entry, field, $"must read '{open} ... {close}'");
        }

        var body = t[open.Length..^close.Length].Trim();
        return body.Length > 0 ? body : throw new ConstitutionFormatException(path, entry, field, "has an empty request");
    }

    // Splits "conversation\n\nM1: s1\n\nM2: s2 ..." at each marker in order; returns [conversation, s1, s2, ...].
    private static string[] SplitSections(string text, string[] markers, string path, string entry)
    {
        var result = new string[markers.Length + 1];
        int from = 0;
        int previousEnd = 0;
        for (int i = 0; i < markers.Length; i++)
        {
            var needle = DialogueFormat.TurnSeparator + markers[i];
            int at = text.IndexOf(needle, from, StringComparison.Ordinal);
            if (at < 0)
            {
                throw new ConstitutionFormatException(path, entry, "(text)", $"has no '{markers[i]}' section");
            }

            result[i] = text[previousEnd..at];
            previousEnd = from = at + needle.Length;
        }

        result[^1] = text[previousEnd..];
        return result;
    }
}
