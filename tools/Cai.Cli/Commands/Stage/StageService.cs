namespace Cai.Cli.Commands.Stage;

/// <summary>
/// A service the command line dials: its resource name, the environment variable that overrides its address
/// (<c>CAI_&lt;SERVICE&gt;_ENDPOINT</c>) and the gRPC port its Program.cs listens on by default
/// (<c>ConfigureCaiEndpoints(defaultGrpcPort: N)</c>).
/// </summary>
public sealed record StageService(string Name, int DefaultPort)
{
    public static readonly StageService Generation = new("generation", 5110);
    public static readonly StageService Critique = new("critique", 5120);
    public static readonly StageService Sft = new("sft", 5130);
    public static readonly StageService Labeling = new("labeling", 5140);
    public static readonly StageService PreferenceModel = new("preference-model", 5150);
    public static readonly StageService Ppo = new("ppo", 5160);
    public static readonly StageService Orchestrator = new("orchestrator", 5170);

    /// <summary>The environment variable holding this service's address, e.g. <c>CAI_PREFERENCE_MODEL_ENDPOINT</c>.</summary>
    public string EnvironmentVariable => "CAI_" + Name.Replace('-', '_').ToUpperInvariant() + "_ENDPOINT";

    /// <summary>The address when neither <c>--endpoint</c> nor the environment names one.</summary>
    public string DefaultEndpoint => $"http://localhost:{DefaultPort}";

    /// <summary>
    /// The address to dial: the option's value, else the environment variable, else the default port on localhost. A
    /// bare <c>host:port</c> gets <c>http://</c> (the services speak plaintext HTTP/2 unless put behind TLS).
    /// </summary>
    /// <exception cref="ArgumentException">The address is not an http(s) URL.</exception>
    public Uri ResolveEndpoint(string? option, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        string source = option is { Length: > 0 } ? "--endpoint" : EnvironmentVariable;
        string raw = option is { Length: > 0 } ? option : environment(EnvironmentVariable) is { Length: > 0 } fromEnv ? fromEnv : DefaultEndpoint;
        raw = raw.Trim();
        if (!raw.Contains("://", StringComparison.Ordinal)) raw = "http://" + raw;
        if (!Uri.TryCreate(raw, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0)
            throw new ArgumentException($"{source}: not an http(s) address: '{raw}' (e.g. http://localhost:{DefaultPort})");
        return uri;
    }
}
