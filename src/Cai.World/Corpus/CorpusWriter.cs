using System.Text.Json;
using Cai.Core.Constitutions;
using Cai.World.Tokenization;

namespace Cai.World.Corpus;

/// <summary>Figures of a written corpus.</summary>
public sealed record CorpusStatistics(int Documents, long Tokens, int VocabularySize, int LongestDocumentTokens,
    IReadOnlyDictionary<DocumentKind, long> TokensByKind);

/// <summary>Writes the pretraining corpus as JSON Lines (one tagged document per line: id, kind, category,
/// category_split, prompt_kind, text) and the world's tokenizer as a Hugging Face <c>tokenizer.json</c>.</summary>
public static class CorpusWriter
{
    public const string CorpusFileName = "corpus.jsonl";
    public const string TokenizerFileName = "tokenizer.json";

    /// <summary>Generates the world, its corpus and tokenizer from <paramref name="options"/> and writes them
    /// to <paramref name="folder"/>.</summary>
    public static CorpusStatistics Generate(string folder, WorldOptions options, Constitution constitution,
        CancellationToken cancellationToken = default)
    {
        var world = SyntheticWorld.Generate(options, cancellationToken);
        var corpus = CorpusBuilder.Build(world, constitution, cancellationToken);
        var tokenizer = WorldTokenizer.Build(world, corpus, constitution, cancellationToken);
        return Write(folder, corpus, tokenizer, cancellationToken);
    }

    public static CorpusStatistics Write(string folder, PretrainingCorpus corpus, WordLevelTokenizer tokenizer,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        ArgumentNullException.ThrowIfNull(corpus);
        ArgumentNullException.ThrowIfNull(tokenizer);
        Directory.CreateDirectory(folder);
        tokenizer.Save(Path.Combine(folder, TokenizerFileName));

        long tokens = 0;
        var longest = 0;
        var byKind = new Dictionary<DocumentKind, long>();
        using var stream = File.Create(Path.Combine(folder, CorpusFileName));
        using var json = new Utf8JsonWriter(stream);
        var newline = "\n"u8.ToArray();
        foreach (var d in corpus.Documents)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var count = tokenizer.Encode(d.Text).Length;
            tokens += count;
            longest = Math.Max(longest, count);
            byKind[d.Kind] = byKind.GetValueOrDefault(d.Kind) + count;
            json.Reset();
            json.WriteStartObject();
            json.WriteString("id", d.Id);
            json.WriteString("kind", d.Kind.ToString());
            json.WriteString("category", d.Category);
            json.WriteString("category_split", d.CategorySplit?.ToString());
            json.WriteString("prompt_kind", d.PromptKind?.ToString());
            json.WriteString("text", d.Text);
            json.WriteEndObject();
            json.Flush();
            stream.Write(newline);
        }
        return new CorpusStatistics(corpus.Documents.Count, tokens, tokenizer.VocabularySize, longest, byKind);
    }
}
