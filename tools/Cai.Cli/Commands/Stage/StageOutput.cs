using System.Collections;
using System.Globalization;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Spectre.Console;
using ProgressMessage = Cai.Protos.V1.Progress;

namespace Cai.Cli.Commands.Stage;

/// <summary>How the stage commands print messages: JSON lines for machines, tables and progress bars for people.</summary>
public static class StageOutput
{
    /// <summary>The protobuf JSON mapping (lowerCamelCase fields), default values included so every field is present.</summary>
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(true));

    /// <summary>Writes <paramref name="message"/> as one line of JSON.</summary>
    public static void WriteJson(IAnsiConsole console, IMessage message)
    {
        console.Profile.Out.Writer.WriteLine(Formatter.Format(message));
        console.Profile.Out.Writer.Flush();
    }

    /// <summary>A field/value table of a message's fields, in field-number order (maps and lists joined on one line).</summary>
    public static Table FieldTable(IMessage message, string? title = null)
    {
        var table = new Table().AddColumn("field").AddColumn("value");
        if (title is not null) table.Title(Markup.Escape(title));
        foreach (var field in message.Descriptor.Fields.InFieldNumberOrder())
        {
            if (field.ContainingOneof is { } oneof && oneof.Accessor.GetCaseFieldDescriptor(message) != field) continue;
            table.AddRow(Markup.Escape(field.Name), Markup.Escape(Format(field, field.Accessor.GetValue(message))));
        }
        return table;
    }

    /// <summary>A value as a person reads it: numbers in invariant culture, messages as compact JSON.</summary>
    public static string Format(FieldDescriptor field, object? value) => value switch
    {
        null => "",
        IDictionary map => string.Join(", ", map.Keys.Cast<object>().OrderBy(k => k.ToString(), StringComparer.Ordinal)
            .Select(k => $"{k}={FormatScalar(map[k])}")),
        IList list when field.IsRepeated => string.Join(", ", list.Cast<object>().Select(FormatScalar)),
        _ => FormatScalar(value),
    };

    private static string FormatScalar(object? value) => value switch
    {
        null => "",
        double d => d.ToString("G6", CultureInfo.InvariantCulture),
        float f => f.ToString("G6", CultureInfo.InvariantCulture),
        IMessage m => Formatter.Format(m),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    /// <summary>A progress line's description: the stage, the step and up to three metrics, the most telling first.</summary>
    public static string Describe(ProgressMessage progress, string fallbackStage)
    {
        string stage = progress.Stage is { Length: > 0 } s ? s : fallbackStage;
        string steps = progress.TotalSteps > 0 ? $"{progress.Step}/{progress.TotalSteps}" : progress.Step.ToString(CultureInfo.InvariantCulture);
        string[] preferred = ["loss", "accuracy", "reward", "kl"];
        var metrics = progress.Metrics
            .OrderBy(m => Array.IndexOf(preferred, m.Key) is var i && i >= 0 ? i : preferred.Length)
            .ThenBy(m => m.Key, StringComparer.Ordinal)
            .Take(3)
            .Select(m => $"{m.Key} {m.Value.ToString("G4", CultureInfo.InvariantCulture)}");
        string text = string.Join("  ", new[] { stage, "step " + steps }.Concat(metrics));
        if (progress.Message is { Length: > 0 } message) text += "  " + message;
        return text;
    }
}
