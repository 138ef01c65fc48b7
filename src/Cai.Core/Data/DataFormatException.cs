namespace Cai.Core.Data;

/// <summary>A data file (prompts, comparisons) was refused; the message names the file, the line and the field.</summary>
public sealed class DataFormatException : FormatException
{
    /// <summary>Creates the exception; the message is composed from the parts.</summary>
    public DataFormatException(string file, int line, string field, string problem, Exception? inner = null)
        : base($"{file}:{line}: field '{field}' {problem}", inner)
    {
        File = file;
        Line = line;
        Field = field;
    }

    /// <summary>The file that was refused.</summary>
    public string File { get; }

    /// <summary>The 1-based line at fault.</summary>
    public int Line { get; }

    /// <summary>The field at fault.</summary>
    public string Field { get; }
}
