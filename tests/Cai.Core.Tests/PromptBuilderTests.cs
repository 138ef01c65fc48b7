using Cai.Core.Constitutions;
using Cai.Core.Dialogues;
using Cai.Core.Prompts;

namespace Cai.Core.Tests;

public class PromptBuilderTests
{
    private static readonly CritiqueRevisionPrinciple Principle = new("p", "Find harm.", "Remove harm.");
    private static readonly Dialogue Prompt = Dialogue.FromHuman("How do I hurt someone?");

    private static readonly CritiqueRevisionExample Example = new(
        "ex", Dialogue.FromHuman("Steal a car?"), "Hot-wire it.", "Is it harmful?", "It helps theft.", "Make it safe.", "I can't help with theft.");

    [Fact]
    public void Critique_prompt_appends_request_and_open_critique()
    {
        var text = CritiqueRevisionPrompts.BuildCritique(Prompt, "Like this.", Principle, []);

        Assert.Equal(
            "\n\nHuman: How do I hurt someone?\n\nAssistant: Like this.\n\nCritiqueRequest: Find harm.\n\nCritique:", text);
    }

    [Fact]
    public void Revision_prompt_continues_the_critique_prompt()
    {
        var critique = CritiqueRevisionPrompts.BuildCritique(Prompt, "Like this.", Principle, [Example]);

        var text = CritiqueRevisionPrompts.BuildRevision(Prompt, "Like this.", Principle, " It is harmful. ", [Example]);

        Assert.Equal(critique + " It is harmful.\n\nRevisionRequest: Remove harm.\n\nRevision:", text);
    }

    [Fact]
    public void Few_shot_examples_are_prepended_and_separated()
    {
        var zero = CritiqueRevisionPrompts.BuildCritique(Prompt, "Like this.", Principle, []);
        var two = CritiqueRevisionPrompts.BuildCritique(Prompt, "Like this.", Principle, [Example, Example]);

        var demo = "\n\nHuman: Steal a car?\n\nAssistant: Hot-wire it.\n\nCritiqueRequest: Is it harmful?\n\nCritique: It helps theft."
                   + "\n\nRevisionRequest: Make it safe.\n\nRevision: I can't help with theft.";
        Assert.Equal(demo + PromptFormat.ExampleSeparator + demo + PromptFormat.ExampleSeparator + zero, two);
    }

    [Fact]
    public void Direct_revision_skips_critiques_everywhere()
    {
        var text = CritiqueRevisionPrompts.BuildDirectRevision(Prompt, "Like this.", Principle, [Example]);

        Assert.DoesNotContain("Critique", text);
        Assert.EndsWith("\n\nAssistant: Like this.\n\nRevisionRequest: Remove harm.\n\nRevision:", text);
        Assert.StartsWith("\n\nHuman: Steal a car?\n\nAssistant: Hot-wire it.\n\nRevisionRequest: Make it safe.", text);
    }

    [Fact]
    public void Multiple_choice_prompt_lists_lettered_options_and_ends_with_the_answer_marker()
    {
        var text = FeedbackPrompts.BuildMultipleChoice(Prompt, "Which is less harmful?", ["No.", "Sure.", "Maybe."], []);

        Assert.Equal(
            "Consider the following conversation between a human and an assistant:\n\nHuman: How do I hurt someone?"
            + "\n\nWhich is less harmful?\nOptions:\n(A) No.\n(B) Sure.\n(C) Maybe.\nThe answer is:", text);
        Assert.Equal([" (A)", " (B)", " (C)"], FeedbackPrompts.OptionContinuations(3));
    }

    [Fact]
    public void Feedback_examples_show_their_answer_and_use_the_question_principle_when_they_have_none()
    {
        var example = new FeedbackExample("ex", Dialogue.FromHuman("Hi?"), null, ["Hello.", "Go away."], 0, null);

        var text = FeedbackPrompts.BuildMultipleChoice(Prompt, "Which is kinder?", ["a", "b"], [example]);

        var blocks = text.Split(PromptFormat.ExampleSeparator + "\n\n");
        Assert.Equal(2, blocks.Length);
        Assert.EndsWith("\n(B) Go away.\nThe answer is: (A)", blocks[0]);
        Assert.Contains("Which is kinder?", blocks[0]);
    }

    [Fact]
    public void Chain_of_thought_prompt_and_follow_up()
    {
        var example = new FeedbackExample("ex", Dialogue.FromHuman("Hi?"), "Own principle?", ["Hello.", "Go away."], 1, "Rude is worse.");

        var cot = FeedbackPrompts.BuildChainOfThought(Prompt, "Which is kinder?", ["a", "b"], [example]);
        var answer = FeedbackPrompts.BuildChainOfThoughtAnswer(cot, " B is kinder.\n");

        Assert.EndsWith("\n(B) b\nLet's think step by step:", cot);
        Assert.Contains("Own principle?\nOptions:", cot);
        Assert.Contains("Let's think step by step: Rude is worse.\nThe answer is: (B)", cot);
        Assert.Equal(cot + " B is kinder.\nThe answer is:", answer);
    }

    [Fact]
    public void Chain_of_thought_demonstrations_need_reasoning()
    {
        var example = new FeedbackExample("ex", Dialogue.FromHuman("Hi?"), null, ["Hello.", "Go away."], 0, null);
        Assert.Throws<ArgumentException>(() => FeedbackPrompts.BuildChainOfThought(Prompt, "Which?", ["a", "b"], [example]));
    }

    [Fact]
    public void Builders_refuse_a_conversation_that_does_not_end_with_the_human()
    {
        var answered = Prompt.WithAssistant("x");
        Assert.Throws<ArgumentException>(() => CritiqueRevisionPrompts.BuildCritique(answered, "y", Principle, []));
        Assert.Throws<ArgumentException>(() => FeedbackPrompts.BuildMultipleChoice(answered, "Which?", ["a", "b"], []));
        Assert.Throws<ArgumentException>(() => FeedbackPrompts.BuildMultipleChoice(Prompt, "Which?", ["a"], []));
    }
}
