using Cai.Core.Dialogues;

namespace Cai.Core.Tests;

public sealed class DialogueResponseTests
{
    [Fact]
    public void A_scored_dialogue_keeps_an_empty_final_response()
    {
        Assert.True(Dialogue.TryParseResponse("\n\nHuman: hi\n\nAssistant:", out var empty));
        Assert.Equal(Role.Assistant, empty!.LastTurn!.Role);
        Assert.Equal("", empty.LastTurn.Text);
        Assert.Equal(Dialogue.FromHuman("hi").WithAssistant("").Render(), empty.Render());

        Assert.True(Dialogue.TryParseResponse("\n\nHuman: hi\n\nAssistant: hello", out var full));
        Assert.Equal("hello", full!.LastTurn!.Text);

        Assert.False(Dialogue.TryParseResponse("\n\nHuman: hi", out _));
        Assert.False(Dialogue.TryParseResponse("no markers", out _));
        // The plain parser still drops the open assistant turn of a prompt.
        Assert.True(Dialogue.TryParse("\n\nHuman: hi\n\nAssistant:", out var prompt));
        Assert.True(prompt!.EndsWithHuman);
    }
}
