using Cai.Core.Constitutions;
using Cai.Core.Dialogues;

namespace Cai.Core.Tests;

public class PaperImporterTests
{
    private static string PaperDir => Path.Combine(TestData.SharedData!, "cai-paper");

    [SharedDataFact]
    public void Imports_all_five_paper_files_into_one_constitution()
    {
        var c = PaperConstitutionImporter.ImportDirectory(PaperDir);

        Assert.Equal(16, c.CritiqueRevisionPrinciples.Count);
        Assert.Equal(16, c.FeedbackPrinciples.Count);
        Assert.Equal(5, c.CritiqueRevisionExamples.Count);
        Assert.Equal(5, c.FeedbackExamples.Count);
        Assert.Equal(6, c.ChainOfThoughtExamples.Count);
    }

    [SharedDataFact]
    public void Critique_revision_principles_lose_their_format_markers()
    {
        var principles = PaperConstitutionImporter.ReadCritiqueRevisionInstructions(
            Path.Combine(PaperDir, PaperConstitutionImporter.CritiqueRevisionInstructionsFile));

        Assert.Equal("harmful0", principles[0].Id);
        Assert.All(principles, p =>
        {
            Assert.DoesNotContain("CritiqueRequest:", p.CritiqueRequest);
            Assert.DoesNotContain("Critique:", p.CritiqueRequest);
            Assert.DoesNotContain("Revision", p.RevisionRequest.Split(' ')[0]);
            Assert.False(char.IsWhiteSpace(p.CritiqueRequest[0]));
            Assert.DoesNotContain("\n", p.RevisionRequest);
        });
    }

    [SharedDataFact]
    public void Critique_revision_examples_split_into_conversation_and_round()
    {
        var examples = PaperConstitutionImporter.ReadCritiqueRevisionFewShot(
            Path.Combine(PaperDir, PaperConstitutionImporter.CritiqueRevisionFewShotFile));

        Assert.All(examples, e =>
        {
            Assert.True(e.Prompt.EndsWithHuman);
            Assert.False(string.IsNullOrWhiteSpace(e.InitialResponse));
            foreach (var part in new[] { e.CritiqueRequest, e.Critique, e.RevisionRequest, e.Revision })
            {
                Assert.False(string.IsNullOrWhiteSpace(part));
                Assert.DoesNotContain("Human:", part);
                Assert.DoesNotContain("Request:", part);
            }
        });
        // The first demonstration is a two-exchange conversation: the critiqued reply is the second answer.
        Assert.Equal(3, examples[0].Prompt.Count);
    }

    [SharedDataFact]
    public void Feedback_principles_and_examples_are_imported()
    {
        var principles = PaperConstitutionImporter.ReadFeedbackInstructions(
            Path.Combine(PaperDir, PaperConstitutionImporter.FeedbackInstructionsFile));
        Assert.All(principles, p =>
        {
            Assert.DoesNotContain("Options:", p.Text);
            Assert.Equal(p.Text.Trim(), p.Text);
        });

        var examples = PaperConstitutionImporter.ReadFeedbackFewShot(
            Path.Combine(PaperDir, PaperConstitutionImporter.FeedbackFewShotFile));
        Assert.All(examples, e =>
        {
            Assert.Equal(2, e.Options.Count);
            Assert.True(e.Conversation.EndsWithHuman);
            Assert.Null(e.Reasoning);
        });
        // Correct answers alternate between (A) and (B) so the demonstrations carry no position bias.
        Assert.Equal([0, 1, 0, 1, 0], examples.Select(e => e.AnswerIndex));
    }

    [SharedDataFact]
    public void Chain_of_thought_examples_parse_conversation_options_reasoning_and_answer()
    {
        var examples = PaperConstitutionImporter.ReadChainOfThoughtFewShot(
            Path.Combine(PaperDir, PaperConstitutionImporter.ChainOfThoughtFewShotFile));

        Assert.All(examples, e =>
        {
            Assert.Equal(2, e.Options.Count);
            Assert.True(e.Conversation.EndsWithHuman);
            Assert.False(string.IsNullOrWhiteSpace(e.Reasoning));
            Assert.DoesNotContain("[[[", e.Options[0]);
            Assert.DoesNotContain("answer is", e.Reasoning!);
        });
        Assert.Equal(['B', 'B', 'A', 'B', 'A', 'B'], examples.Select(e => e.AnswerLetter));
        // The first demonstration is a three-turn conversation in H:/A: form.
        Assert.Equal([Role.Human, Role.Assistant, Role.Human], examples[0].Conversation.Turns.Select(t => t.Role));
    }

    [SharedDataFact]
    public void Imported_constitution_survives_the_project_format()
    {
        var c = PaperConstitutionImporter.ImportDirectory(PaperDir);

        var copy = ConstitutionLoader.LoadJson(ConstitutionLoader.ToJson(c), "paper.json");

        Assert.Equal(c.CritiqueRevisionPrinciples, copy.CritiqueRevisionPrinciples);
        Assert.Equal(c.CritiqueRevisionExamples, copy.CritiqueRevisionExamples);
        Assert.Equal(c.ChainOfThoughtExamples.Select(e => e.Reasoning), copy.ChainOfThoughtExamples.Select(e => e.Reasoning));
    }

    [Fact]
    public void Malformed_paper_file_is_refused_naming_the_entry_and_field()
    {
        var dir = Directory.CreateTempSubdirectory("cai-core-paper");
        try
        {
            var path = Path.Combine(dir.FullName, PaperConstitutionImporter.CritiqueRevisionInstructionsFile);
            File.WriteAllText(path, """{"harmfulX": {"prompt": ["no markers"], "edit_request": "\n\nRevisionRequest: Fix.\n\nRevision:"}}""");

            var e = Assert.Throws<ConstitutionFormatException>(() => PaperConstitutionImporter.ReadCritiqueRevisionInstructions(path));

            Assert.Equal(path, e.File);
            Assert.Equal("'harmfulX'", e.Entry);
            Assert.Equal("prompt", e.Field);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
