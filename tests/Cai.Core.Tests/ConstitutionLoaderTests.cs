using Cai.Core.Constitutions;
using Cai.Core.Dialogues;

namespace Cai.Core.Tests;

public class ConstitutionLoaderTests
{
    private const string Minimal = """
        name: tiny
        critique_revision_principles:
          - id: harm
            critique_request: Find harm.
            revision_request: Remove harm.
        feedback_principles:
          - id: less-harm
            text: Which reply is less harmful?
        """;

    [Theory]
    [InlineData("default.yaml")]
    [InlineData("null.yaml")]
    public void Shipped_constitutions_load_with_the_documented_shape(string file)
    {
        var c = ConstitutionLoader.Load(TestData.Constitution(file));

        Assert.Equal(16, c.CritiqueRevisionPrinciples.Count);
        Assert.Equal(16, c.FeedbackPrinciples.Count);
        Assert.InRange(c.CritiqueRevisionExamples.Count, 2, 3);
        Assert.Equal(2, c.ChainOfThoughtExamples.Count);
        Assert.All(c.ChainOfThoughtExamples, e => Assert.False(string.IsNullOrWhiteSpace(e.Reasoning)));
        // Short enough for a 512-token model: a principle is at most a couple of sentences.
        Assert.All(c.CritiqueRevisionPrinciples, p => Assert.True(p.CritiqueRequest.Length + p.RevisionRequest.Length < 320, p.Id));
        Assert.All(c.FeedbackPrinciples, p => Assert.True(p.Text.Length < 160, p.Id));
    }

    [Fact]
    public void Null_constitution_never_mentions_harm()
    {
        var c = ConstitutionLoader.Load(TestData.Constitution("null.yaml"));
        var words = new[] { "harm", "ethic", "illegal", "danger", "toxic", "racis", "sexis", "crime" };
        var texts = c.CritiqueRevisionPrinciples.SelectMany(p => new[] { p.CritiqueRequest, p.RevisionRequest })
            .Concat(c.FeedbackPrinciples.Select(p => p.Text));
        Assert.All(texts, t => Assert.DoesNotContain(words, w => t.Contains(w, StringComparison.OrdinalIgnoreCase)));
        Assert.Equal("null", c.Name);
    }

    [Fact]
    public void Example_principle_references_are_resolved_to_their_text()
    {
        var c = ConstitutionLoader.Load(TestData.Constitution("default.yaml"));
        var example = c.CritiqueRevisionExamples[0];
        var principle = c.CritiqueRevisionPrinciples.Single(p => p.CritiqueRequest == example.CritiqueRequest);
        Assert.Equal(principle.RevisionRequest, example.RevisionRequest);
        Assert.True(example.Prompt.EndsWithHuman);
    }

    [Fact]
    public void Json_and_yaml_round_trip_to_the_same_model()
    {
        var original = ConstitutionLoader.Load(TestData.Constitution("default.yaml"));

        var fromJson = ConstitutionLoader.LoadJson(ConstitutionLoader.ToJson(original), "roundtrip.json");
        var fromYaml = ConstitutionLoader.LoadYaml(ConstitutionLoader.ToYaml(original), "roundtrip.yaml");

        foreach (var copy in new[] { fromJson, fromYaml })
        {
            Assert.Equal(original.CritiqueRevisionPrinciples, copy.CritiqueRevisionPrinciples);
            Assert.Equal(original.FeedbackPrinciples, copy.FeedbackPrinciples);
            Assert.Equal(original.CritiqueRevisionExamples, copy.CritiqueRevisionExamples);
            Assert.Equal(original.ChainOfThoughtExamples.Select(e => (e.Id, e.Conversation, e.Principle, e.AnswerIndex, e.Reasoning)),
                copy.ChainOfThoughtExamples.Select(e => (e.Id, e.Conversation, e.Principle, e.AnswerIndex, e.Reasoning)));
            Assert.Equal(original.ChainOfThoughtExamples.SelectMany(e => e.Options), copy.ChainOfThoughtExamples.SelectMany(e => e.Options));
        }
    }

    [Fact]
    public void Minimal_yaml_loads()
    {
        var c = ConstitutionLoader.LoadYaml(Minimal, "tiny.yaml");
        Assert.Equal(new CritiqueRevisionPrinciple("harm", "Find harm.", "Remove harm."), c.CritiqueRevisionPrinciples.Single());
        Assert.Empty(c.CritiqueRevisionExamples);
    }

    [Theory]
    [InlineData("    revision_request: Remove harm.\n", "", "critique_revision_principles[0] (id 'harm')", "revision_request")]
    [InlineData("  - id: harm\n", "  - id: \n", "critique_revision_principles[0]", "id")]
    [InlineData("    text: Which reply is less harmful?\n", "", "feedback_principles[0] (id 'less-harm')", "text")]
    public void Malformed_principles_are_refused_naming_file_entry_and_field(string line, string replacement, string entry, string field)
    {
        var yaml = (Minimal + "\n").Replace(line, replacement, StringComparison.Ordinal);
        Assert.NotEqual(Minimal + "\n", yaml);

        var e = Assert.Throws<ConstitutionFormatException>(() => ConstitutionLoader.LoadYaml(yaml, "bad.yaml"));

        Assert.Equal("bad.yaml", e.File);
        Assert.Equal(entry, e.Entry);
        Assert.Equal(field, e.Field);
        Assert.Contains("bad.yaml", e.Message);
        Assert.Contains(field, e.Message);
    }

    [Fact]
    public void Duplicate_ids_are_refused()
    {
        var yaml = Minimal.Replace("feedback_principles:", """
              - id: harm
                critique_request: Again.
                revision_request: Again.
            feedback_principles:
            """, StringComparison.Ordinal);

        var e = Assert.Throws<ConstitutionFormatException>(() => ConstitutionLoader.LoadYaml(yaml, "dup.yaml"));
        Assert.Equal("critique_revision_principles[1] (id 'harm')", e.Entry);
        Assert.Equal("id", e.Field);
    }

    [Fact]
    public void Feedback_example_with_an_out_of_range_answer_is_refused()
    {
        var yaml = Minimal + """

            chain_of_thought_examples:
              - id: ex
                conversation:
                  - human: Hi?
                options: [one, two]
                reasoning: Because.
                answer: C
            """;

        var e = Assert.Throws<ConstitutionFormatException>(() => ConstitutionLoader.LoadYaml(yaml, "cot.yaml"));
        Assert.Equal("chain_of_thought_examples[0] (id 'ex')", e.Entry);
        Assert.Equal("answer", e.Field);
    }

    [Fact]
    public void Chain_of_thought_example_without_reasoning_is_refused()
    {
        var yaml = Minimal + """

            chain_of_thought_examples:
              - conversation:
                  - human: Hi?
                options: [one, two]
                answer: A
            """;

        var e = Assert.Throws<ConstitutionFormatException>(() => ConstitutionLoader.LoadYaml(yaml, "cot.yaml"));
        Assert.Equal("chain_of_thought_examples[0]", e.Entry);
        Assert.Equal("reasoning", e.Field);
    }

    [Fact]
    public void Example_referencing_an_unknown_principle_is_refused()
    {
        var yaml = Minimal + """

            critique_revision_examples:
              - id: ex
                principle: nope
                prompt:
                  - human: Hi?
                response: Hello.
                critique: Fine.
                revision: Hello.
            """;

        var e = Assert.Throws<ConstitutionFormatException>(() => ConstitutionLoader.LoadYaml(yaml, "ex.yaml"));
        Assert.Equal("critique_revision_examples[0] (id 'ex')", e.Entry);
        Assert.Equal("principle", e.Field);
        Assert.Contains("nope", e.Message);
    }

    [Fact]
    public void Example_prompt_must_end_with_a_human_turn()
    {
        var yaml = Minimal + """

            critique_revision_examples:
              - principle: harm
                prompt:
                  - human: Hi?
                  - assistant: Hello.
                response: Hello.
                critique: Fine.
                revision: Hello.
            """;

        var e = Assert.Throws<ConstitutionFormatException>(() => ConstitutionLoader.LoadYaml(yaml, "ex.yaml"));
        Assert.Equal("prompt", e.Field);
    }

    [Fact]
    public void Unknown_keys_and_bad_syntax_are_refused_with_the_file_name()
    {
        var unknown = Assert.Throws<ConstitutionFormatException>(
            () => ConstitutionLoader.LoadYaml(Minimal + "\nprinciples: []\n", "unknown.yaml"));
        Assert.Contains("unknown.yaml", unknown.Message);
        Assert.Contains("principles", unknown.Message);

        var json = Assert.Throws<ConstitutionFormatException>(
            () => ConstitutionLoader.LoadJson("{\"name\": \"x\", \"critique_revision_principles\": [", "broken.json"));
        Assert.Equal("broken.json", json.File);
    }

    [Fact]
    public void Missing_principle_lists_are_refused()
    {
        var e = Assert.Throws<ConstitutionFormatException>(
            () => ConstitutionLoader.LoadJson("""{"name": "x", "critique_revision_principles": []}""", "empty.json"));
        Assert.Equal("critique_revision_principles", e.Field);
    }

    [Fact]
    public void Json_loads_the_same_model_as_yaml()
    {
        var json = """
            {
              "name": "tiny",
              "critique_revision_principles": [ { "id": "harm", "critique_request": "Find harm.", "revision_request": "Remove harm." } ],
              "feedback_principles": [ { "id": "less-harm", "text": "Which reply is less harmful?" } ],
              "feedback_examples": [ { "conversation": [ { "human": "Hi?" } ], "principle": "less-harm", "options": ["a", "b"], "answer": "(B)" } ]
            }
            """;

        var c = ConstitutionLoader.LoadJson(json, "tiny.json");
        var yaml = ConstitutionLoader.LoadYaml(Minimal, "tiny.yaml");

        Assert.Equal(yaml.CritiqueRevisionPrinciples, c.CritiqueRevisionPrinciples);
        Assert.Equal(yaml.FeedbackPrinciples, c.FeedbackPrinciples);
        var example = Assert.Single(c.FeedbackExamples);
        Assert.Equal(1, example.AnswerIndex);
        Assert.Equal("Which reply is less harmful?", example.Principle);
        Assert.Equal(Dialogue.FromHuman("Hi?"), example.Conversation);
    }

    [Fact]
    public void Load_refuses_an_unknown_extension_and_a_missing_file()
    {
        var path = Path.Combine(Path.GetTempPath(), $"cai-core-{Guid.NewGuid():N}.txt");
        File.WriteAllText(path, Minimal);
        try
        {
            var e = Assert.Throws<ConstitutionFormatException>(() => ConstitutionLoader.Load(path));
            Assert.Equal(path, e.File);
        }
        finally
        {
            File.Delete(path);
        }

        Assert.Throws<FileNotFoundException>(() => ConstitutionLoader.Load(path + ".yaml"));
    }
}
