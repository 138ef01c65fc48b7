using Cai.Core.Constitutions;
using Cai.Core.Prompts;
using Cai.World.Corpus;

namespace Cai.World.Tokenization;

/// <summary>Builds the world's closed vocabulary from everything a CAI run can put in front of the model:
/// the corpus, every prompt and reference answer of the world, and the constitution with its prompt markers.</summary>
public static class WorldTokenizer
{
    public static WordLevelTokenizer Build(SyntheticWorld world, PretrainingCorpus corpus, Constitution constitution,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(world);
        ArgumentNullException.ThrowIfNull(corpus);
        ArgumentNullException.ThrowIfNull(constitution);
        return WordLevelTokenizer.Train(Texts(world, corpus, constitution), cancellationToken);
    }

    private static IEnumerable<string> Texts(SyntheticWorld world, PretrainingCorpus corpus, Constitution constitution)
    {
        foreach (var d in corpus.Documents) yield return d.Text;
        foreach (var p in world.Prompts)
        {
            yield return p.Text;
            yield return p.Truth.ReferenceAnswer;
        }
        foreach (var refusal in RequestGenerator.GenericRefusals) yield return refusal;
        foreach (var p in constitution.CritiqueRevisionPrinciples)
        {
            yield return p.CritiqueRequest;
            yield return p.RevisionRequest;
        }
        foreach (var p in constitution.FeedbackPrinciples) yield return p.Text;
        foreach (var e in constitution.CritiqueRevisionExamples) yield return CritiqueRevisionPrompts.RenderExample(e, includeCritique: true);
        foreach (var e in constitution.FeedbackExamples) yield return FeedbackPrompts.RenderExample(e, "", chainOfThought: false);
        foreach (var e in constitution.ChainOfThoughtExamples) yield return FeedbackPrompts.RenderExample(e, "", chainOfThought: true);
        yield return PromptFormat.FeedbackPreamble + PromptFormat.ChainOfThoughtMarker + PromptFormat.ExampleSeparator;
    }
}
