namespace Cai.World.Corpus;

/// <summary>One pretraining document with its tags: what kind of text it is, which harm category it is
/// about (null for benign or general text) and that category's split, and, for dialogues and
/// demonstrations, the kind of request it answers.</summary>
public sealed record CorpusDocument(
    string Id,
    DocumentKind Kind,
    string? Category,
    CategorySplit? CategorySplit,
    PromptKind? PromptKind,
    string Text);

/// <summary>The pretraining corpus of the helpful-only base model (deduplicated documents).</summary>
public sealed record PretrainingCorpus(IReadOnlyList<CorpusDocument> Documents)
{
    /// <summary>Documents of one kind.</summary>
    public IEnumerable<CorpusDocument> OfKind(DocumentKind kind) => Documents.Where(d => d.Kind == kind);
}
