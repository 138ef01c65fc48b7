using System.Text;
using Cai.Core.Constitutions;
using Cai.Core.Dialogues;

namespace Cai.Core.Prompts;

/// <summary>
/// Builds the RL-CAI feedback prompts: a multiple-choice question ("Consider the following conversation ...",
/// the conversation, the principle, "Options: (A) ... (B) ...", "The answer is:") whose option continuations
/// " (A)", " (B)", ... are scored; and the chain-of-thought variant that ends with "Let's think step by step:",
/// followed, once the model has reasoned, by <see cref="BuildChainOfThoughtAnswer"/>.
/// </summary>
public static class FeedbackPrompts
{
    /// <summary>The letter of option <paramref name="index"/> ("A" for 0).</summary>
    public static string OptionLetter(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(index, 25);
        return ((char)('A' + index)).ToString();
    }

    /// <summary>The continuation scored for option <paramref name="index"/>: " (A)", " (B)", ...</summary>
    public static string OptionContinuation(int index) => $" ({OptionLetter(index)})";

    /// <summary>The continuations " (A)" .. for <paramref name="count"/> options.</summary>
    public static IReadOnlyList<string> OptionContinuations(int count) =>
        [.. Enumerable.Range(0, count).Select(OptionContinuation)];

    /// <summary>A multiple-choice question, after few-shot demonstrations, ending with "The answer is:".</summary>
    /// <param name="conversation">The conversation the options answer (ends with a human turn).</param>
    /// <param name="principle">The comparison principle text.</param>
    /// <param name="options">Candidate assistant responses (2 to 26).</param>
    /// <param name="examples">Demonstrations shown before the question with their answers (0 allowed).</param>
    public static string BuildMultipleChoice(
        Dialogue conversation, string principle, IReadOnlyList<string> options, IReadOnlyList<FeedbackExample> examples)
    {
        var sb = new StringBuilder();
        AppendExamples(sb, examples, principle, chainOfThought: false);
        AppendQuestion(sb, conversation, principle, options);
        sb.Append('\n').Append(PromptFormat.AnswerMarker);
        return sb.ToString();
    }

    /// <summary>
    /// The chain-of-thought question: like <see cref="BuildMultipleChoice"/> but ending with
    /// "Let's think step by step:" so the model writes its reasoning first. Demonstrations show their reasoning.
    /// </summary>
    public static string BuildChainOfThought(
        Dialogue conversation, string principle, IReadOnlyList<string> options, IReadOnlyList<FeedbackExample> examples)
    {
        var sb = new StringBuilder();
        AppendExamples(sb, examples, principle, chainOfThought: true);
        AppendQuestion(sb, conversation, principle, options);
        sb.Append('\n').Append(PromptFormat.ChainOfThoughtMarker);
        return sb.ToString();
    }

    /// <summary>Appends the model's reasoning and "The answer is:" to a chain-of-thought prompt, for scoring options.</summary>
    public static string BuildChainOfThoughtAnswer(string chainOfThoughtPrompt, string reasoning)
    {
        ArgumentNullException.ThrowIfNull(chainOfThoughtPrompt);
        ArgumentNullException.ThrowIfNull(reasoning);
        var trimmed = reasoning.Trim();
        return chainOfThoughtPrompt + (trimmed.Length > 0 ? " " + trimmed : string.Empty) + "\n" + PromptFormat.AnswerMarker;
    }

    /// <summary>One demonstration with its answer, as it appears in context.</summary>
    /// <param name="example">The demonstration.</param>
    /// <param name="fallbackPrinciple">Used when the demonstration carries no principle of its own.</param>
    /// <param name="chainOfThought">Show the reasoning (it must be present).</param>
    public static string RenderExample(FeedbackExample example, string fallbackPrinciple, bool chainOfThought)
    {
        ArgumentNullException.ThrowIfNull(example);
        var sb = new StringBuilder();
        AppendQuestion(sb, example.Conversation, example.Principle ?? fallbackPrinciple, example.Options);
        if (chainOfThought)
        {
            if (string.IsNullOrWhiteSpace(example.Reasoning))
            {
                throw new ArgumentException($"feedback example '{example.Id}' has no reasoning for a chain-of-thought prompt",
                    nameof(example));
            }

            sb.Append('\n').Append(PromptFormat.ChainOfThoughtMarker).Append(' ').Append(example.Reasoning.Trim());
        }

        sb.Append('\n').Append(PromptFormat.AnswerMarker).Append(OptionContinuation(example.AnswerIndex));
        return sb.ToString();
    }

    private static void AppendExamples(StringBuilder sb, IReadOnlyList<FeedbackExample> examples, string principle, bool chainOfThought)
    {
        ArgumentNullException.ThrowIfNull(examples);
        foreach (var example in examples)
        {
            sb.Append(RenderExample(example, principle, chainOfThought))
              .Append(PromptFormat.ExampleSeparator)
              .Append(DialogueFormat.TurnSeparator);
        }
    }

    private static void AppendQuestion(StringBuilder sb, Dialogue conversation, string principle, IReadOnlyList<string> options)
    {
        ArgumentNullException.ThrowIfNull(conversation);
        ArgumentException.ThrowIfNullOrWhiteSpace(principle);
        ArgumentNullException.ThrowIfNull(options);
        if (!conversation.EndsWithHuman)
        {
            throw new ArgumentException("the conversation must end with the human turn the options answer", nameof(conversation));
        }

        if (options.Count is < 2 or > 26)
        {
            throw new ArgumentException($"a feedback question needs 2 to 26 options, got {options.Count}", nameof(options));
        }

        sb.Append(PromptFormat.FeedbackPreamble)
          .Append(conversation.Render())
          .Append(DialogueFormat.TurnSeparator).Append(principle.Trim())
          .Append('\n').Append(PromptFormat.OptionsMarker);
        for (int i = 0; i < options.Count; i++)
        {
            sb.Append("\n(").Append(OptionLetter(i)).Append(") ").Append(options[i].Trim());
        }
    }
}
