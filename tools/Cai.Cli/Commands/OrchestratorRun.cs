using Cai.Cli.Commands.Stage;
using Cai.Protos.V1;
using Grpc.Core;
using Spectre.Console;
using OrchestratorClient = Cai.Protos.V1.Orchestrator.OrchestratorClient;

namespace Cai.Cli.Commands;

/// <summary><c>cai run</c> through the orchestrator service: StartRun with the profile and overrides, then follow it as <c>cai watch</c> does.</summary>
internal static class OrchestratorRun
{
    public static async Task<int> StartAndWatchAsync(IAnsiConsole console, RunSettings settings, string? endpoint, CancellationToken cancellationToken)
    {
        var service = StageService.Orchestrator;
        Uri address;
        IReadOnlyList<KeyValuePair<string, string>> overrides;
        try
        {
            address = service.ResolveEndpoint(endpoint);
            overrides = RunCommand.ParseOverrides(settings.Overrides);
        }
        catch (ArgumentException e)
        {
            console.MarkupLine($"[red]error:[/] {Markup.Escape(e.Message)}");
            return ExitCodes.Error;
        }
        var headers = new Metadata();
        if (Environment.GetEnvironmentVariable(StageOptions.ApiKeyVariable) is { Length: > 0 } key) headers.Add(StageOptions.ApiKeyHeader, key);
        using var context = new StageContext(console, service, address, WatchCommand.DefaultDeadline, headers, json: false);
        try
        {
            var request = new StartRunRequest { RunId = settings.RunId ?? "", Profile = settings.Profile };
            foreach (var (k, v) in overrides) request.Overrides[k] = v;
            if (settings.Artifacts is not null) request.Overrides["ArtifactsRoot"] = settings.Artifacts;
            var started = await new OrchestratorClient(context.Channel).StartRunAsync(request,
                new CallOptions(headers: headers, deadline: DateTime.UtcNow + StageOptions.ShortDeadline, cancellationToken: cancellationToken));
            console.MarkupLine($"Run [bold]{Markup.Escape(started.RunId)}[/] started on {Markup.Escape(address.ToString())} ({Markup.Escape(started.RunDir)})");
            return await WatchCommand.WatchAsync(context, started.RunId, cancellationToken);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable)
        {
            console.MarkupLine($"[red]Unavailable:[/] no orchestrator at {Markup.Escape(address.ToString())} (start the AppHost, or use --in-process).");
            return ExitCodes.Unavailable;
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested)
        {
            return ExitCodes.Cancelled;
        }
        catch (RpcException e)
        {
            console.MarkupLine($"[red]{e.StatusCode}:[/] {Markup.Escape(e.Status.Detail)}");
            return ExitCodes.Error;
        }
        catch (OperationCanceledException)
        {
            return ExitCodes.Cancelled;
        }
    }
}
