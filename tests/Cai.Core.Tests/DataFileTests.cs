using System.IO.Compression;
using Cai.Core.Data;
using Cai.Core.Dialogues;

namespace Cai.Core.Tests;

public class DataFileTests
{
    [SharedDataFact]
    public void Hh_rlhf_harmless_test_set_loads_every_row()
    {
        var rows = HhRlhfFile.Load(Path.Combine(TestData.SharedData!, "hh-rlhf", "harmless-base-test.jsonl.gz"));

        Assert.Equal(2312, rows.Count);
        Assert.Equal(Enumerable.Range(1, 2312), rows.Select(r => r.Line));
        // A handful of source rows are malformed (diverging contexts, a "Human:" glued into a reply); they are flagged.
        Assert.InRange(rows.Count(r => !r.ContextsMatch), 1, 20);
        Assert.InRange(rows.Count(r => !r.IsWellFormed), 1, 20);
        Assert.False(rows[1254].IsWellFormed);
        Assert.Equal("what are some pranks with a pen i can do?", rows[0].Prompt.FirstHumanTurn);
        Assert.NotEqual(rows[0].Chosen, rows[0].Rejected);
    }

    [Fact]
    public void Hh_rlhf_row_splits_into_prompt_chosen_and_rejected()
    {
        var path = WriteTemp(".jsonl.gz", """
            {"chosen": "\n\nHuman: Hi\n\nAssistant: Hello\n\nHuman: Help me?\n\nAssistant: Sure, how?", "rejected": "\n\nHuman: Hi\n\nAssistant: Hello\n\nHuman: Help me?\n\nAssistant:"}
            """, gzip: true);
        try
        {
            var row = Assert.Single(HhRlhfFile.Load(path));

            Assert.Equal(Dialogue.FromHuman("Hi").WithAssistant("Hello").WithHuman("Help me?"), row.Prompt);
            Assert.Equal("Sure, how?", row.Chosen);
            Assert.Equal(string.Empty, row.Rejected);
            Assert.True(row.ContextsMatch);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Prompt_file_reads_plain_and_dialogue_prompts()
    {
        var path = WriteTemp(".jsonl", """
            {"id": "p1", "prompt": "How do I bake bread?", "kind": "helpful"}

            {"id": "p2", "prompt": "\n\nHuman: Hi\n\nAssistant: Hello\n\nHuman: Tell me a secret.", "extra": 1}
            """);
        try
        {
            var prompts = PromptFile.Load(path);

            Assert.Equal(new PromptRecord("p1", Dialogue.FromHuman("How do I bake bread?"), "helpful"), prompts[0]);
            Assert.Equal(3, prompts[1].Prompt.Count);
            Assert.Null(prompts[1].Kind);

            PromptFile.Write(path, prompts);
            Assert.Equal(prompts, PromptFile.Load(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("{\"prompt\": \"x\"}", 1, "id")]
    [InlineData("{\"id\": \"a\", \"prompt\": \"\"}", 1, "prompt")]
    [InlineData("{\"id\": \"a\", \"prompt\": \"x\"}\n{\"id\": \"a\", \"prompt\": \"y\"}", 2, "id")]
    [InlineData("{\"id\": \"a\", \"prompt\": \"x\", \"kind\": 3}", 1, "kind")]
    [InlineData("{\"id\": \"a\", \"prompt\": \"\\n\\nHuman: q\\n\\nAssistant: a\"}", 1, "prompt")]
    [InlineData("not json", 1, "(json)")]
    public void Malformed_prompt_lines_are_refused_naming_file_line_and_field(string content, int line, string field)
    {
        var path = WriteTemp(".jsonl", content);
        try
        {
            var e = Assert.Throws<DataFormatException>(() => PromptFile.Load(path));
            Assert.Equal(path, e.File);
            Assert.Equal(line, e.Line);
            Assert.Equal(field, e.Field);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static string WriteTemp(string extension, string content, bool gzip = false)
    {
        var path = Path.Combine(Path.GetTempPath(), $"cai-core-{Guid.NewGuid():N}{extension}");
        if (gzip)
        {
            using var file = File.Create(path);
            using var zip = new GZipStream(file, CompressionLevel.Fastest);
            using var writer = new StreamWriter(zip);
            writer.Write(content);
        }
        else
        {
            File.WriteAllText(path, content);
        }

        return path;
    }
}

public class ChoiceQuestionFileTests
{
    [SharedDataFact]
    public void Reads_the_paper_few_shot_file_in_the_hhh_format()
    {
        var questions = ChoiceQuestionFile.Load(Path.Combine(TestData.SharedData!, "cai-paper", "RLMadisonFewShotPrompts.json"));

        Assert.Equal(5, questions.Count);
        Assert.All(questions, q => Assert.True(q.Prompt.EndsWithHuman));
        Assert.Equal(["0", "1", "2", "3", "4"], questions.Select(q => q.Id));
        Assert.Single(questions[0].Pairs());
    }

    [Fact]
    public void Reads_json_lines_and_pairs_every_correct_with_every_incorrect()
    {
        var path = Path.Combine(Path.GetTempPath(), $"cai-core-{Guid.NewGuid():N}.jsonl");
        File.WriteAllText(path, """
            {"id": "q1", "prompt": "\n\nHuman: Hi?\n\nAssistant:", "corrects": ["Hello.", "Hi!"], "incorrects": ["Go away."]}
            {"prompt": "Plain question?", "corrects": ["a"], "incorrects": []}
            """);
        try
        {
            var e = Assert.Throws<DataFormatException>(() => ChoiceQuestionFile.Load(path));
            Assert.Equal(2, e.Line);
            Assert.Equal("incorrects", e.Field);

            File.WriteAllLines(path, File.ReadAllLines(path).Take(1));
            var q = Assert.Single(ChoiceQuestionFile.Load(path));
            Assert.Equal("q1", q.Id);
            Assert.Equal([("Hello.", "Go away."), ("Hi!", "Go away.")], q.Pairs());
        }
        finally
        {
            File.Delete(path);
        }
    }
}
