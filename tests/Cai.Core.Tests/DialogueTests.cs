using System.Text.Json;
using Cai.Core.Dialogues;

namespace Cai.Core.Tests;

public class DialogueTests
{
    [Fact]
    public void Render_uses_the_paper_markers_and_parse_round_trips()
    {
        var dialogue = Dialogue.FromHuman("Hi there.").WithAssistant("Hello!").WithHuman("How are you?");

        var text = dialogue.Render();

        Assert.Equal("\n\nHuman: Hi there.\n\nAssistant: Hello!\n\nHuman: How are you?", text);
        Assert.Equal(text + "\n\nAssistant:", dialogue.RenderPrompt());
        Assert.Equal(dialogue, Dialogue.Parse(text));
        Assert.Equal(dialogue, Dialogue.Parse(dialogue.RenderPrompt()));
    }

    [Fact]
    public void Parse_keeps_multi_paragraph_turns_and_ignores_markers_inside_lines()
    {
        var text = "\n\nHuman: First line.\nSecond line mentions Human: inline.\n\nAssistant: Para one.\n\nPara two.";

        var d = Dialogue.Parse(text);

        Assert.Equal(2, d.Count);
        Assert.Equal("First line.\nSecond line mentions Human: inline.", d.Turns[0].Text);
        Assert.Equal(new Turn(Role.Assistant, "Para one.\n\nPara two."), d.Turns[1]);
    }

    [Fact]
    public void Parse_accepts_text_without_leading_newlines()
    {
        var d = Dialogue.Parse("Human: hey\n\nAssistant: yo");
        Assert.Equal([Role.Human, Role.Assistant], d.Turns.Select(t => t.Role));
    }

    [Theory]
    [InlineData("no markers here")]
    [InlineData("preamble\n\nHuman: hi")]
    public void Parse_refuses_text_that_is_not_a_dialogue(string text)
    {
        Assert.Throws<FormatException>(() => Dialogue.Parse(text));
        Assert.False(Dialogue.TryParse(text, out _));
    }

    [Fact]
    public void First_human_turn_and_split_of_last_response()
    {
        var d = Dialogue.Parse("\n\nHuman: q1\n\nAssistant: a1\n\nHuman: q2\n\nAssistant: a2");

        Assert.Equal("q1", d.FirstHumanTurn);
        var (prompt, response) = d.SplitLastResponse();
        Assert.Equal("a2", response);
        Assert.True(prompt.EndsWithHuman);
        Assert.Equal("q2", prompt.LastTurn!.Text);
    }

    [Fact]
    public void RenderPrompt_requires_a_final_human_turn()
    {
        var d = Dialogue.FromHuman("q").WithAssistant("a");
        Assert.Throws<InvalidOperationException>(() => d.RenderPrompt());
    }

    [Fact]
    public void Json_form_is_a_list_of_one_key_turns_and_round_trips()
    {
        var d = Dialogue.FromHuman("Say \"\n\nAssistant: hi\" please").WithAssistant("ok");

        var json = JsonSerializer.Serialize(d);

        Assert.Equal("""[{"human":"Say \u0022\n\nAssistant: hi\u0022 please"},{"assistant":"ok"}]""", json);
        Assert.Equal(d, JsonSerializer.Deserialize<Dialogue>(json));
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<Dialogue>("""[{"robot":"x"}]"""));
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<Dialogue>("""{"human":"x"}"""));
    }
}
