namespace Cai.Core.Constitutions;

/// <summary>
/// A constitution file was refused. The message and properties name the file, the entry (list and index or id)
/// and the field at fault, so the author can fix it without reading the loader.
/// </summary>
public sealed class ConstitutionFormatException : FormatException
{
    /// <summary>Creates the exception; the message is composed from the parts.</summary>
    public ConstitutionFormatException(string file, string entry, string field, string problem, Exception? inner = null)
        : base($"{file}: {entry}: field '{field}' {problem}", inner)
    {
        File = file;
        Entry = entry;
        Field = field;
    }

    /// <summary>The file (or source name given to the loader) that was refused.</summary>
    public string File { get; }

    /// <summary>The entry at fault, e.g. "critique_revision_principles[3] (id 'harm')", or "document".</summary>
    public string Entry { get; }

    /// <summary>The field at fault, e.g. "revision_request".</summary>
    public string Field { get; }
}
