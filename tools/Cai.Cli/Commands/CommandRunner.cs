using Spectre.Console;

namespace Cai.Cli.Commands;

/// <summary>Runs a command's work off the caller's thread and turns expected failures into one red
/// line and exit code 1 (2 when cancelled), instead of a stack trace.</summary>
internal static class CommandRunner
{
    public static async Task<int> RunAsync<T>(IAnsiConsole console, Func<T> work, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Run(work, cancellationToken);
            return 0;
        }
        catch (OperationCanceledException)
        {
            console.MarkupLine("[yellow]Cancelled.[/]");
            return 2;
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or NotSupportedException or UnauthorizedAccessException)
        {
            console.MarkupLine($"[red]error:[/] {Markup.Escape(e.Message)}");
            return 1;
        }
    }
}
