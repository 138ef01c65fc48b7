using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Grpc.Core;
using Grpc.Net.Client;
using Spectre.Console;

namespace Cai.Cli.Commands.Stage;

/// <summary>
/// The options every command that calls a service shares (<c>--endpoint</c>, <c>--deadline</c>, <c>--api-key</c>,
/// <c>--json</c>), one set per command so each names its own service and default deadline in <c>--help</c>.
/// </summary>
public sealed class StageOptions
{
    /// <summary>The metadata header that carries the API key.</summary>
    public const string ApiKeyHeader = "x-api-key";

    /// <summary>The environment variable read when <c>--api-key</c> is not given.</summary>
    public const string ApiKeyVariable = "CAI_API_KEY";

    /// <summary>The default deadline of quick calls (sampling, scoring, labeling one item).</summary>
    public static readonly TimeSpan ShortDeadline = TimeSpan.FromMinutes(2);

    /// <summary>The default deadline of training calls, which stream progress for as long as the job runs.</summary>
    public static readonly TimeSpan LongDeadline = TimeSpan.FromHours(2);

    public StageOptions(StageService service, TimeSpan defaultDeadline)
    {
        Service = service;
        DefaultDeadline = defaultDeadline;
        Endpoint = new Option<string?>("--endpoint")
        {
            Description = $"Address of the {service.Name} service (default: ${service.EnvironmentVariable}, else {service.DefaultEndpoint}).",
            HelpName = "url",
        };
        Deadline = new Option<TimeSpan?>("--deadline")
        {
            Description = $"Give up when the call has not finished after this long: 500ms, 90s, 5m, 2h or hh:mm:ss (default: {Durations.Format(defaultDeadline)}).",
            HelpName = "duration",
            CustomParser = Durations.Parse,
        };
        ApiKey = new Option<string?>("--api-key")
        {
            Description = $"API key sent to the service as the '{ApiKeyHeader}' header (default: ${ApiKeyVariable}). Never printed.",
            HelpName = "key",
        };
        Json = new Option<bool>("--json") { Description = "Print machine-readable JSON (one object per line) instead of tables and progress bars." };
    }

    public StageService Service { get; }
    public TimeSpan DefaultDeadline { get; }
    public Option<string?> Endpoint { get; }
    public Option<TimeSpan?> Deadline { get; }
    public Option<string?> ApiKey { get; }
    public Option<bool> Json { get; }

    /// <summary>Adds the four options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        command.Options.Add(Endpoint);
        command.Options.Add(Deadline);
        command.Options.Add(ApiKey);
        command.Options.Add(Json);
    }

    /// <summary>Creates the command, adds these options and sets its action to run <paramref name="work"/> through <see cref="StageRunner"/>.</summary>
    public Command Command(string name, string description, IAnsiConsole console, IEnumerable<Symbol> symbols,
        Func<ParseResult, StageContext, CancellationToken, Task<int>> work)
    {
        var command = new Command(name, description);
        foreach (var symbol in symbols)
        {
            if (symbol is Argument argument) command.Arguments.Add(argument);
            else if (symbol is Option option) command.Options.Add(option);
        }
        AddTo(command);
        command.SetAction((parse, cancellationToken) => StageRunner.RunAsync(console, this, parse, (context, ct) => work(parse, context, ct), cancellationToken));
        return command;
    }

    /// <summary>The connection and per-call settings of one invocation.</summary>
    /// <exception cref="ArgumentException">An option's value is unusable (the message names the option).</exception>
    public StageContext Open(ParseResult parse, IAnsiConsole console, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var endpoint = Service.ResolveEndpoint(parse.GetValue(Endpoint), environment);
        var deadline = parse.GetValue(Deadline) ?? DefaultDeadline;
        var headers = new Metadata();
        string? key = parse.GetValue(ApiKey) is { Length: > 0 } given ? given : environment(ApiKeyVariable);
        if (!string.IsNullOrEmpty(key))
        {
            // Metadata refuses other characters; say so without echoing the key.
            if (key.Any(c => c is < ' ' or > '~'))
                throw new ArgumentException($"--api-key (or ${ApiKeyVariable}): must be printable ASCII");
            headers.Add(ApiKeyHeader, key);
        }
        return new StageContext(console, Service, endpoint, deadline, headers, parse.GetValue(Json));
    }
}

/// <summary>One invocation's channel, deadline, headers and output mode.</summary>
public sealed class StageContext(IAnsiConsole console, StageService service, Uri endpoint, TimeSpan deadline, Metadata headers, bool json) : IDisposable
{
    private GrpcChannel? _channel;

    public IAnsiConsole Console { get; } = console;
    public StageService Service { get; } = service;
    public Uri Endpoint { get; } = endpoint;
    public TimeSpan Deadline { get; } = deadline;
    public bool Json { get; } = json;

    /// <summary>Whether an API key is sent (the key itself is never shown).</summary>
    public bool SendsApiKey => headers.Count > 0;

    /// <summary>The channel, opened on first use.</summary>
    public GrpcChannel Channel => _channel ??= GrpcChannel.ForAddress(Endpoint, new GrpcChannelOptions
    {
        // Training results and batched samples can exceed the 4 MB default.
        MaxReceiveMessageSize = 64 * 1024 * 1024,
    });

    /// <summary>Options of one call: the deadline counts from now, the headers carry the API key, Ctrl+C cancels.</summary>
    public CallOptions Call(CancellationToken cancellationToken) =>
        new(headers: headers, deadline: DateTime.UtcNow + Deadline, cancellationToken: cancellationToken);

    /// <summary>Prints a line of markup in human mode only.</summary>
    public void Say(string markup)
    {
        if (!Json) Console.MarkupLine(markup);
    }

    public void Dispose() => _channel?.Dispose();
}

/// <summary>Durations on the command line: <c>500ms</c>, <c>90s</c>, <c>5m</c>, <c>2h</c>, <c>1d</c> or a TimeSpan (<c>01:30:00</c>).</summary>
public static class Durations
{
    public static TimeSpan? Parse(ArgumentResult result)
    {
        string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
        if (TryParse(text, out var value)) return value;
        string name = result.Parent is OptionResult option ? option.Option.Name : "duration";
        result.AddError($"{name}: '{text}' is not a positive duration (500ms, 90s, 5m, 2h, 1d or hh:mm:ss).");
        return null;
    }

    public static bool TryParse(string text, out TimeSpan value)
    {
        value = default;
        text = text.Trim();
        (string unit, double seconds)[] units = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)];
        foreach (var (unit, seconds) in units.OrderByDescending(u => u.unit.Length))
        {
            if (!text.EndsWith(unit, StringComparison.OrdinalIgnoreCase)) continue;
            if (!double.TryParse(text[..^unit.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out double n)
                || !double.IsFinite(n) || n <= 0 || n * seconds > TimeSpan.FromDays(365).TotalSeconds) return false;
            value = TimeSpan.FromSeconds(n * seconds);
            return true;
        }
        return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out value) && value > TimeSpan.Zero;
    }

    public static string Format(TimeSpan t) =>
        t.TotalMilliseconds < 1000 ? Number(t.TotalMilliseconds) + "ms"
        : t.TotalSeconds < 120 ? Number(t.TotalSeconds) + "s"
        : t.TotalMinutes < 120 ? Number(t.TotalMinutes) + "m"
        : Number(t.TotalHours) + "h";

    private static string Number(double x) => x.ToString("0.#", CultureInfo.InvariantCulture);
}
