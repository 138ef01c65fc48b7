using System.Text.Json;
using System.Text.Json.Serialization;
using Cai.Core.Dialogues;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace Cai.Core.Constitutions;

/// <summary>
/// Reads and writes constitutions in the project's format (YAML or JSON with the same snake_case keys, see
/// constitutions/README.md) and validates them: a malformed file is refused with a
/// <see cref="ConstitutionFormatException"/> naming the file, the entry and the field.
/// </summary>
public static class ConstitutionLoader
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Loads a constitution file; the format follows the extension (.yaml/.yml or .json).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="ConstitutionFormatException">The file is malformed.</exception>
    public static Constitution Load(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"constitution file not found: {path}", path);
        }

        var text = File.ReadAllText(path);
        return Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".yaml" or ".yml" => LoadYaml(text, path),
            ".json" => LoadJson(text, path),
            var ext => throw new ConstitutionFormatException(path, "document", "(file extension)",
                $"is '{ext}': expected .yaml, .yml or .json"),
        };
    }

    /// <summary>Parses and validates a constitution from YAML text; <paramref name="source"/> names it in errors.</summary>
    public static Constitution LoadYaml(string yaml, string source = "<yaml>")
    {
        ArgumentNullException.ThrowIfNull(yaml);
        var deserializer = new DeserializerBuilder()
            .WithNamingConvention(UnderscoredNamingConvention.Instance)
            .Build();
        ConstitutionDocument? document;
        try
        {
            document = deserializer.Deserialize<ConstitutionDocument?>(yaml);
        }
        catch (YamlException e)
        {
            // YamlDotNet reports unknown keys and type mismatches with a position; keep it, name the file.
            var reason = (e.InnerException?.Message ?? e.Message).Trim();
            throw new ConstitutionFormatException(source, $"line {e.Start.Line}, column {e.Start.Column}",
                "(syntax)", $"could not be read: {reason}", e);
        }

        return Validate(document, source);
    }

    /// <summary>Parses and validates a constitution from JSON text; <paramref name="source"/> names it in errors.</summary>
    public static Constitution LoadJson(string json, string source = "<json>")
    {
        ArgumentNullException.ThrowIfNull(json);
        ConstitutionDocument? document;
        try
        {
            document = JsonSerializer.Deserialize<ConstitutionDocument>(json, JsonOptions);
        }
        catch (JsonException e)
        {
            throw new ConstitutionFormatException(source, $"line {e.LineNumber + 1}", e.Path ?? "(syntax)",
                $"could not be read: {e.Message}", e);
        }

        return Validate(document, source);
    }

    /// <summary>Writes a constitution as JSON in the project's format (requests and principles written out in full).</summary>
    public static string ToJson(Constitution constitution) =>
        JsonSerializer.Serialize(ToDocument(constitution), JsonOptions);

    /// <summary>Writes a constitution as YAML in the project's format.</summary>
    public static string ToYaml(Constitution constitution) =>
        new SerializerBuilder()
            .WithNamingConvention(UnderscoredNamingConvention.Instance)
            .ConfigureDefaultValuesHandling(DefaultValuesHandling.OmitNull)
            .Build()
            .Serialize(ToDocument(constitution));

    private static Constitution Validate(ConstitutionDocument? document, string source)
    {
        if (document is null)
        {
            throw new ConstitutionFormatException(source, "document", "(root)", "is empty");
        }

        var name = Required(document.Name, source, "document", "name");

        var critiqueRevision = RequiredList(document.CritiqueRevisionPrinciples, source, "critique_revision_principles");
        var crIds = new HashSet<string>(StringComparer.Ordinal);
        var crPrinciples = new List<CritiqueRevisionPrinciple>();
        for (int i = 0; i < critiqueRevision.Count; i++)
        {
            var entry = $"critique_revision_principles[{i}]";
            var p = critiqueRevision[i] ?? throw new ConstitutionFormatException(source, entry, "(entry)", "is empty");
            var id = Required(p.Id, source, entry, "id");
            entry += $" (id '{id}')";
            if (!crIds.Add(id))
            {
                throw new ConstitutionFormatException(source, entry, "id", "duplicates an earlier principle's id");
            }

            crPrinciples.Add(new CritiqueRevisionPrinciple(id,
                Required(p.CritiqueRequest, source, entry, "critique_request"),
                Required(p.RevisionRequest, source, entry, "revision_request")));
        }

        var feedback = RequiredList(document.FeedbackPrinciples, source, "feedback_principles");
        var fbIds = new HashSet<string>(StringComparer.Ordinal);
        var fbPrinciples = new List<FeedbackPrinciple>();
        for (int i = 0; i < feedback.Count; i++)
        {
            var entry = $"feedback_principles[{i}]";
            var p = feedback[i] ?? throw new ConstitutionFormatException(source, entry, "(entry)", "is empty");
            var id = Required(p.Id, source, entry, "id");
            entry += $" (id '{id}')";
            if (!fbIds.Add(id))
            {
                throw new ConstitutionFormatException(source, entry, "id", "duplicates an earlier principle's id");
            }

            fbPrinciples.Add(new FeedbackPrinciple(id, Required(p.Text, source, entry, "text")));
        }

        var crExamples = new List<CritiqueRevisionExample>();
        var crExampleDocs = document.CritiqueRevisionExamples ?? [];
        for (int i = 0; i < crExampleDocs.Count; i++)
        {
            crExamples.Add(ValidateCritiqueRevisionExample(crExampleDocs[i], i, crPrinciples, source));
        }

        var fbExamples = ValidateFeedbackExamples(document.FeedbackExamples, "feedback_examples",
            requireReasoning: false, fbPrinciples, source);
        var cotExamples = ValidateFeedbackExamples(document.ChainOfThoughtExamples, "chain_of_thought_examples",
            requireReasoning: true, fbPrinciples, source);

        return new Constitution(name, string.IsNullOrWhiteSpace(document.Description) ? null : document.Description.Trim(),
            crPrinciples, fbPrinciples, crExamples, fbExamples, cotExamples);
    }

    private static CritiqueRevisionExample ValidateCritiqueRevisionExample(
        CritiqueRevisionExampleDocument? e, int index, List<CritiqueRevisionPrinciple> principles, string source)
    {
        var entry = $"critique_revision_examples[{index}]";
        if (e is null)
        {
            throw new ConstitutionFormatException(source, entry, "(entry)", "is empty");
        }

        var id = string.IsNullOrWhiteSpace(e.Id) ? $"example{index}" : e.Id.Trim();
        if (!string.IsNullOrWhiteSpace(e.Id))
        {
            entry += $" (id '{id}')";
        }

        string critiqueRequest, revisionRequest;
        if (!string.IsNullOrWhiteSpace(e.Principle))
        {
            if (e.CritiqueRequest is not null || e.RevisionRequest is not null)
            {
                throw new ConstitutionFormatException(source, entry, "principle",
                    "is set together with critique_request/revision_request: give one or the other");
            }

            var p = principles.FirstOrDefault(x => x.Id == e.Principle.Trim())
                ?? throw new ConstitutionFormatException(source, entry, "principle",
                    $"names '{e.Principle}', which is not a critique_revision_principles id");
            (critiqueRequest, revisionRequest) = (p.CritiqueRequest, p.RevisionRequest);
        }
        else
        {
            critiqueRequest = Required(e.CritiqueRequest, source, entry, "critique_request");
            revisionRequest = Required(e.RevisionRequest, source, entry, "revision_request");
        }

        var prompt = ValidateTurns(e.Prompt, source, entry, "prompt");
        return new CritiqueRevisionExample(id, prompt,
            Required(e.Response, source, entry, "response"),
            critiqueRequest,
            Required(e.Critique, source, entry, "critique"),
            revisionRequest,
            Required(e.Revision, source, entry, "revision"));
    }

    private static List<FeedbackExample> ValidateFeedbackExamples(
        List<FeedbackExampleDocument?>? docs, string list, bool requireReasoning,
        List<FeedbackPrinciple> principles, string source)
    {
        var result = new List<FeedbackExample>();
        for (int i = 0; i < (docs?.Count ?? 0); i++)
        {
            var e = docs![i];
            var entry = $"{list}[{i}]";
            if (e is null)
            {
                throw new ConstitutionFormatException(source, entry, "(entry)", "is empty");
            }

            var id = string.IsNullOrWhiteSpace(e.Id) ? $"example{i}" : e.Id.Trim();
            if (!string.IsNullOrWhiteSpace(e.Id))
            {
                entry += $" (id '{id}')";
            }

            string? principle = null;
            if (!string.IsNullOrWhiteSpace(e.Principle))
            {
                if (e.PrincipleText is not null)
                {
                    throw new ConstitutionFormatException(source, entry, "principle",
                        "is set together with principle_text: give one or the other");
                }

                principle = (principles.FirstOrDefault(x => x.Id == e.Principle.Trim())
                    ?? throw new ConstitutionFormatException(source, entry, "principle",
                        $"names '{e.Principle}', which is not a feedback_principles id")).Text;
            }
            else if (!string.IsNullOrWhiteSpace(e.PrincipleText))
            {
                principle = e.PrincipleText.Trim();
            }

            var conversation = ValidateTurns(e.Conversation, source, entry, "conversation");
            if (e.Options is null || e.Options.Count < 2)
            {
                throw new ConstitutionFormatException(source, entry, "options", "must list at least two options");
            }

            if (e.Options.Count > 26)
            {
                throw new ConstitutionFormatException(source, entry, "options", "lists more than 26 options (A-Z)");
            }

            var options = new List<string>();
            for (int j = 0; j < e.Options.Count; j++)
            {
                options.Add(Required(e.Options[j], source, entry, $"options[{j}]"));
            }

            var answer = Required(e.Answer, source, entry, "answer").Trim('(', ')', ' ').ToUpperInvariant();
            int answerIndex = answer.Length == 1 ? answer[0] - 'A' : -1;
            if (answerIndex < 0 || answerIndex >= options.Count)
            {
                throw new ConstitutionFormatException(source, entry, "answer",
                    $"is '{e.Answer}': expected an option letter A-{(char)('A' + options.Count - 1)}");
            }

            string? reasoning = requireReasoning
                ? Required(e.Reasoning, source, entry, "reasoning")
                : string.IsNullOrWhiteSpace(e.Reasoning) ? null : e.Reasoning.Trim();
            result.Add(new FeedbackExample(id, conversation, principle, options, answerIndex, reasoning));
        }

        return result;
    }

    private static Dialogue ValidateTurns(List<TurnDocument?>? turns, string source, string entry, string field)
    {
        if (turns is null || turns.Count == 0)
        {
            throw new ConstitutionFormatException(source, entry, field, "must list at least one turn");
        }

        var result = new List<Turn>();
        for (int i = 0; i < turns.Count; i++)
        {
            var t = turns[i];
            bool hasHuman = !string.IsNullOrWhiteSpace(t?.Human);
            bool hasAssistant = !string.IsNullOrWhiteSpace(t?.Assistant);
            if (hasHuman == hasAssistant)
            {
                throw new ConstitutionFormatException(source, entry, $"{field}[{i}]",
                    "must have exactly one non-empty key: 'human' or 'assistant'");
            }

            result.Add(hasHuman ? new Turn(Role.Human, t!.Human!) : new Turn(Role.Assistant, t!.Assistant!));
        }

        if (result[^1].Role != Role.Human)
        {
            throw new ConstitutionFormatException(source, entry, field,
                "must end with a human turn (the turn the response answers)");
        }

        return new Dialogue(result);
    }

    private static string Required(string? value, string source, string entry, string field) =>
        string.IsNullOrWhiteSpace(value)
            ? throw new ConstitutionFormatException(source, entry, field, "is missing or empty")
            : value.Trim();

    private static List<T?> RequiredList<T>(List<T?>? list, string source, string field) =>
        list is null || list.Count == 0
            ? throw new ConstitutionFormatException(source, "document", field, "must list at least one principle")
            : list;

    private static ConstitutionDocument ToDocument(Constitution c) => new()
    {
        Name = c.Name,
        Description = c.Description,
        CritiqueRevisionPrinciples = [.. c.CritiqueRevisionPrinciples.Select(p => new CritiqueRevisionPrincipleDocument
        {
            Id = p.Id, CritiqueRequest = p.CritiqueRequest, RevisionRequest = p.RevisionRequest,
        })],
        FeedbackPrinciples = [.. c.FeedbackPrinciples.Select(p => new FeedbackPrincipleDocument { Id = p.Id, Text = p.Text })],
        CritiqueRevisionExamples = [.. c.CritiqueRevisionExamples.Select(e => new CritiqueRevisionExampleDocument
        {
            Id = e.Id,
            CritiqueRequest = e.CritiqueRequest,
            RevisionRequest = e.RevisionRequest,
            Prompt = ToTurnDocuments(e.Prompt),
            Response = e.InitialResponse,
            Critique = e.Critique,
            Revision = e.Revision,
        })],
        FeedbackExamples = [.. c.FeedbackExamples.Select(ToDocument)],
        ChainOfThoughtExamples = [.. c.ChainOfThoughtExamples.Select(ToDocument)],
    };

    private static FeedbackExampleDocument? ToDocument(FeedbackExample e) => new()
    {
        Id = e.Id,
        PrincipleText = e.Principle,
        Conversation = ToTurnDocuments(e.Conversation),
        Options = [.. e.Options],
        Reasoning = e.Reasoning,
        Answer = e.AnswerLetter.ToString(),
    };

    private static List<TurnDocument?> ToTurnDocuments(Dialogue d) =>
        [.. d.Turns.Select(t => new TurnDocument
        {
            Human = t.Role == Role.Human ? t.Text : null,
            Assistant = t.Role == Role.Assistant ? t.Text : null,
        })];
}
