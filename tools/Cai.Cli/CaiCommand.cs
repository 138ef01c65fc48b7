using System.CommandLine;
using Cai.Cli.Commands;
using Spectre.Console;

namespace Cai.Cli;

/// <summary>The <c>cai</c> command line: the project's client for people (DESIGN.md, "tools/").</summary>
public static class CaiCommand
{
    /// <summary>The root command; <paramref name="console"/> receives all output (tests pass a recording one).</summary>
    public static RootCommand Create(IAnsiConsole console)
    {
        var root = new RootCommand("cai: Constitutional AI on .NET. Bootstrap the embedded default model, evaluate policies, export checkpoints to GGUF.");
        root.Subcommands.Add(BootstrapCommand.Create(console));
        root.Subcommands.Add(EvalCommand.Create(console));
        root.Subcommands.Add(ExportGgufCommand.CreateExportGroup(console));
        root.Subcommands.Add(Commands.Stage.StageCommand.Create(console));
        root.Subcommands.Add(RunCommand.Create(console));
        root.Subcommands.Add(WatchCommand.Create(console));
        root.Subcommands.Add(ReportCommand.Create(console));
        return root;
    }
}
