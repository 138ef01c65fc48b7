using System.Globalization;
using System.Text;
using Cai.Pipeline;

namespace Cai.Reporting;

/// <summary>Small helpers that write GitHub-flavoured Markdown: tables with escaped cells, fenced text, numbers.</summary>
public static class Markdown
{
    /// <summary>What a section says when its inputs are missing.</summary>
    public const string NotAvailable = "not available";

    /// <summary>A pipe table; cells are escaped (pipes, newlines) so any text is safe in a cell.</summary>
    /// <param name="header">Column titles.</param>
    /// <param name="rows">Rows, each with as many cells as <paramref name="header"/>.</param>
    /// <param name="rightAligned">Indexes of columns to right-align (numbers).</param>
    public static string Table(IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows, IReadOnlySet<int>? rightAligned = null)
    {
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(rows);
        var text = new StringBuilder();
        text.Append("| ").AppendJoin(" | ", header.Select(Cell)).AppendLine(" |");
        text.Append('|');
        for (int i = 0; i < header.Count; i++) text.Append(rightAligned?.Contains(i) == true ? " ---: |" : " --- |");
        text.AppendLine();
        foreach (var row in rows)
        {
            if (row.Count != header.Count)
                throw new ArgumentException($"a row has {row.Count} cells but the table has {header.Count} columns", nameof(rows));
            text.Append("| ").AppendJoin(" | ", row.Select(Cell)).AppendLine(" |");
        }

        return text.ToString();
    }

    /// <summary>One table cell: pipes escaped, line breaks as spaces, empty as a dash.</summary>
    public static string Cell(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return "-";
        return text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("|", "\\|", StringComparison.Ordinal)
            .Replace("\r\n", " ", StringComparison.Ordinal).Replace('\n', ' ').Replace('\r', ' ').Trim();
    }

    /// <summary>Inline text outside a table or fence: Markdown and HTML specials escaped, on one line.</summary>
    public static string Inline(string? text)
    {
        if (string.IsNullOrEmpty(text)) return "";
        var result = new StringBuilder(text.Length);
        foreach (char c in text.ReplaceLineEndings(" "))
        {
            if ("\\`*_{}[]<>()#+-.!|~".Contains(c)) result.Append('\\');
            result.Append(c);
        }

        return result.ToString();
    }

    /// <summary>
    /// Text shown verbatim in a fenced block (a fence longer than any backtick run inside), cut to
    /// <paramref name="maxChars"/> characters.
    /// </summary>
    public static string Fenced(string? text, int maxChars = 1500)
    {
        text ??= "";
        text = text.ReplaceLineEndings("\n").TrimEnd();
        if (text.Length > maxChars) text = text[..maxChars] + " [...]";
        int longest = 0, run = 0;
        foreach (char c in text)
        {
            run = c == '`' ? run + 1 : 0;
            longest = Math.Max(longest, run);
        }

        string fence = new('`', Math.Max(3, longest + 1));
        return $"{fence}text\n{(text.Length == 0 ? "(empty)" : text)}\n{fence}\n";
    }

    /// <summary>A proportion as a percentage with one decimal; "-" for NaN.</summary>
    public static string Percent(double x) =>
        double.IsNaN(x) ? "-" : (100 * x).ToString("F1", CultureInfo.InvariantCulture) + "%";

    /// <summary>A number with <paramref name="decimals"/> decimals; "-" for null or NaN.</summary>
    public static string Number(double? x, int decimals = 3) =>
        x is not { } v || double.IsNaN(v) ? "-" : v.ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    /// <summary>A signed rating rounded to a whole number (e.g. "+42", "-7", "0").</summary>
    public static string Elo(double? x) =>
        x is not { } v || double.IsNaN(v) ? "-" : Math.Round(v).ToString("+0;-0;0", CultureInfo.InvariantCulture);

    /// <summary>A rate with its 95% interval and counts, e.g. "82.0% (75.1-87.4%, 123/150)".</summary>
    public static string Rate(EvaluatedRate? rate) =>
        rate is null ? "-"
        : rate.Total == 0 ? $"- (0/0)"
        : $"{Percent(rate.Rate)} ({Percent(rate.Low).TrimEnd('%')}-{Percent(rate.High)}, {rate.Count.ToString(CultureInfo.InvariantCulture)}/{rate.Total.ToString(CultureInfo.InvariantCulture)})";

    /// <summary>Seconds as "12.3 s" or "4 min 05 s".</summary>
    public static string Duration(double seconds)
    {
        if (double.IsNaN(seconds)) return "-";
        if (seconds < 60) return seconds.ToString("F1", CultureInfo.InvariantCulture) + " s";
        var span = TimeSpan.FromSeconds(Math.Round(seconds));
        return span.TotalHours >= 1
            ? $"{((int)span.TotalHours).ToString(CultureInfo.InvariantCulture)} h {span.Minutes:00} min"
            : $"{span.Minutes.ToString(CultureInfo.InvariantCulture)} min {span.Seconds:00} s";
    }

    /// <summary>The line a section shows when it cannot be drawn: "_Not available: reason._".</summary>
    public static string Missing(string reason) => $"_Not available: {reason.TrimEnd('.')}._\n";
}
