using System.CommandLine;
using Grpc.Core;
using Spectre.Console;

namespace Cai.Cli.Commands.Stage;

/// <summary>Exit codes of the commands that call a service.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>Bad input, an error the service returned, or a run that failed.</summary>
    public const int Error = 1;
    /// <summary>Cancelled (Ctrl+C).</summary>
    public const int Cancelled = 2;
    /// <summary>The service could not be reached.</summary>
    public const int Unavailable = 3;
}

/// <summary>
/// Runs a service call for a command: opens the channel, then turns what can go wrong into one red line and an exit
/// code (<see cref="ExitCodes"/>) instead of a stack trace. An RPC error prints as "Status: detail", the detail naming
/// the request field the service refused.
/// </summary>
public static class StageRunner
{
    public static async Task<int> RunAsync(IAnsiConsole console, StageOptions options, ParseResult parse,
        Func<StageContext, CancellationToken, Task<int>> work, CancellationToken cancellationToken)
    {
        StageContext? context = null;
        try
        {
            context = options.Open(parse, console);
            return await work(context, cancellationToken);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested)
        {
            return Cancelled(console);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return Cancelled(console);
        }
        catch (RpcException e)
        {
            string detail = e.Status.Detail;
            if (e.StatusCode == StatusCode.DeadlineExceeded && context is not null)
                detail = $"{detail} (--deadline {Durations.Format(context.Deadline)})";
            console.MarkupLine($"[red]{e.StatusCode}: {Markup.Escape(detail)}[/]");
            if (e.StatusCode == StatusCode.Unavailable && context is not null)
            {
                console.MarkupLine($"[grey]Is the {context.Service.Name} service running at {Markup.Escape(context.Endpoint.ToString())}? "
                    + $"Set --endpoint or ${context.Service.EnvironmentVariable}.[/]");
                return ExitCodes.Unavailable;
            }
            return e.StatusCode == StatusCode.Unavailable ? ExitCodes.Unavailable : ExitCodes.Error;
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or UnauthorizedAccessException or FormatException)
        {
            console.MarkupLine($"[red]error: {Markup.Escape(e.Message)}[/]");
            return ExitCodes.Error;
        }
        finally
        {
            context?.Dispose();
        }
    }

    private static int Cancelled(IAnsiConsole console)
    {
        console.MarkupLine("[yellow]Cancelled.[/]");
        return ExitCodes.Cancelled;
    }
}
