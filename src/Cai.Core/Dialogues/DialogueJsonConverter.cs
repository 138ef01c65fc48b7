using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cai.Core.Dialogues;

/// <summary>
/// JSON form of a <see cref="Dialogue"/>: a list of one-key objects, <c>[{"human": "..."}, {"assistant": "..."}]</c>,
/// the same shape constitution files use. Lossless, unlike the rendered text (a turn may itself contain a marker).
/// </summary>
public sealed class DialogueJsonConverter : JsonConverter<Dialogue>
{
    private const string HumanKey = "human";
    private const string AssistantKey = "assistant";

    /// <inheritdoc />
    public override Dialogue Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw new JsonException("a dialogue must be a JSON list of {\"human\": ...} / {\"assistant\": ...} turns");
        }

        var turns = new List<Turn>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject || !reader.Read() || reader.TokenType != JsonTokenType.PropertyName)
            {
                throw new JsonException($"dialogue turn {turns.Count} must be an object with one key, 'human' or 'assistant'");
            }

            var role = reader.GetString() switch
            {
                HumanKey => Role.Human,
                AssistantKey => Role.Assistant,
                var other => throw new JsonException($"dialogue turn {turns.Count} has key '{other}': expected 'human' or 'assistant'"),
            };
            if (!reader.Read() || reader.TokenType != JsonTokenType.String)
            {
                throw new JsonException($"dialogue turn {turns.Count} must have a string text");
            }

            turns.Add(new Turn(role, reader.GetString()!));
            if (!reader.Read() || reader.TokenType != JsonTokenType.EndObject)
            {
                throw new JsonException($"dialogue turn {turns.Count - 1} must have exactly one key");
            }
        }

        return new Dialogue(turns);
    }

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, Dialogue value, JsonSerializerOptions options)
    {
        writer.WriteStartArray();
        foreach (var turn in value.Turns)
        {
            writer.WriteStartObject();
            writer.WriteString(turn.Role == Role.Human ? HumanKey : AssistantKey, turn.Text);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    }
}
