namespace Cai.Core.Dialogues;

/// <summary>The paper's format markers, used verbatim by every prompt the project builds.</summary>
public static class DialogueFormat
{
    /// <summary>Separates turns and prompt sections: a blank line.</summary>
    public const string TurnSeparator = "\n\n";

    /// <summary>Marks a human turn.</summary>
    public const string HumanMarker = "Human:";

    /// <summary>Marks an assistant turn.</summary>
    public const string AssistantMarker = "Assistant:";

    /// <summary>The marker for a role.</summary>
    public static string Marker(Role role) => role switch
    {
        Role.Human => HumanMarker,
        Role.Assistant => AssistantMarker,
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, "unknown role"),
    };
}
