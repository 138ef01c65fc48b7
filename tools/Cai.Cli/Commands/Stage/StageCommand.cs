using System.CommandLine;
using Spectre.Console;

namespace Cai.Cli.Commands.Stage;

/// <summary><c>cai stage</c>: call one service of a CAI run from the command line.</summary>
public static class StageCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var stage = new Command("stage", string.Join(Environment.NewLine,
            "Call one stage service directly: sample, score, critique, label, train or evaluate.",
            "Every call has a deadline (--deadline); paths of models and data are as the service sees them.",
            "Each service's address: --endpoint, else $CAI_<SERVICE>_ENDPOINT, else its default port on localhost.",
            "Exit codes: 0 ok, 1 bad input or an error from the service, 2 cancelled (Ctrl+C), 3 service unavailable."))
        {
            GenerationCommands.Generate(console),
            GenerationCommands.Score(console),
            FeedbackCommands.Critique(console),
            FeedbackCommands.Label(console),
            TrainingCommands.Sft(console),
            TrainingCommands.PreferenceModel(console),
            PreferenceModelCommands.Score(console),
            PreferenceModelCommands.Evaluate(console),
            TrainingCommands.Ppo(console),
            TrainingCommands.PpoStatus(console),
        };
        return stage;
    }
}
