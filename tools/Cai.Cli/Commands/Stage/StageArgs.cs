using System.CommandLine;
using Cai.Protos.V1;

namespace Cai.Cli.Commands.Stage;

/// <summary>Small factories for the options the stage commands repeat (so each is declared once, with its help).</summary>
internal static class StageArgs
{
    public static Option<string> Text(string name, string description, bool required = false, string? helpName = null) =>
        new(name) { Description = description, Required = required, HelpName = helpName };

    public static Option<string[]> Many(string name, string description, string helpName, bool required = false) =>
        new(name) { Description = description, Required = required, HelpName = helpName, AllowMultipleArgumentsPerToken = true };

    public static Option<int> Int(string name, string description, string helpName = "n") =>
        new(name) { Description = description, HelpName = helpName };

    public static Option<double> Double(string name, string description, string helpName = "x") =>
        new(name) { Description = description, HelpName = helpName };

    public static Option<bool> Flag(string name, string description) => new(name) { Description = description };

    public static Option<ulong> Seed(string description = "Seed (same seed, model, machine and threads: the same result).") =>
        new("--seed") { Description = description, HelpName = "n" };

    /// <summary>A model or data path as the service sees it.</summary>
    public const string ServicePath = "as the service sees it: absolute, or relative to its artifacts root";

    /// <summary>A command description followed by example lines, as <c>--help</c> shows it.</summary>
    public static string Describe(string what, params string[] examples) =>
        what + Environment.NewLine + string.Join(Environment.NewLine, examples.Select(e => "  example: " + e));
}

/// <summary>
/// The sampling options of the commands that generate text (<c>generate</c>, <c>critique</c>): temperature, top-p,
/// top-k, max new tokens, stop strings and, where the command has them, samples per prompt and the sampling seed.
/// </summary>
internal sealed class SamplingOptionSet
{
    private readonly float? _defaultTemperature;

    public SamplingOptionSet(float? defaultTemperature, bool withSamplesAndSeed)
    {
        _defaultTemperature = defaultTemperature;
        string temperatureDefault = defaultTemperature is { } t ? t.ToString(System.Globalization.CultureInfo.InvariantCulture) : "the service's";
        Temperature = new Option<float?>("--temperature") { Description = $"Sampling temperature; 0 is greedy (default: {temperatureDefault}).", HelpName = "t" };
        TopP = new Option<float?>("--top-p") { Description = "Nucleus sampling: keep the most likely tokens up to this probability mass, in (0, 1] (default: 1).", HelpName = "p" };
        TopK = new Option<int?>("--top-k") { Description = "Sample among the k most likely tokens only (default: all).", HelpName = "k" };
        MaxNewTokens = new Option<int?>("--max-new-tokens") { Description = "Most tokens to generate per sample (default: the service's).", HelpName = "n" };
        Stop = new Option<string[]>("--stop") { Description = "Stop when this string appears (not included in the text); repeatable.", HelpName = "text" };
        if (withSamplesAndSeed)
        {
            Samples = new Option<int?>("--samples") { Description = "Samples per prompt (default: 1).", HelpName = "n" };
            Seed = new Option<ulong?>("--seed") { Description = "Sampling seed: the same seed, model, machine and thread count give the same text (default: a fresh one).", HelpName = "n" };
        }
    }

    public Option<float?> Temperature { get; }
    public Option<float?> TopP { get; }
    public Option<int?> TopK { get; }
    public Option<int?> MaxNewTokens { get; }
    public Option<string[]> Stop { get; }
    public Option<int?>? Samples { get; }
    public Option<ulong?>? Seed { get; }

    public IEnumerable<Option> All => new Option?[] { Temperature, TopP, TopK, MaxNewTokens, Stop, Samples, Seed }.OfType<Option>();

    /// <summary>
    /// The request's sampling message; null when no option is given and there is no default temperature (the
    /// service's defaults then apply). Proto zeros mean "unset", except temperature (0 is greedy): so a message
    /// without a temperature would be greedy, and is refused.
    /// </summary>
    public SamplingParams? Read(ParseResult parse)
    {
        float? temperature = parse.GetValue(Temperature) ?? _defaultTemperature;
        float? topP = parse.GetValue(TopP);
        int? topK = parse.GetValue(TopK), maxNew = parse.GetValue(MaxNewTokens);
        string[] stop = parse.GetValue(Stop) ?? [];
        int? samples = Samples is null ? null : parse.GetValue(Samples);
        ulong? seed = Seed is null ? null : parse.GetValue(Seed);
        bool any = topP is not null || topK is not null || maxNew is not null || stop.Length > 0 || samples is not null || seed is not null;
        if (temperature is null)
        {
            if (!any) return null;
            throw new ArgumentException("--temperature: give it with the other sampling options (a sampling request without one is greedy)");
        }
        var sampling = new SamplingParams
        {
            Temperature = temperature.Value,
            TopP = topP ?? 0,
            TopK = topK ?? 0,
            MaxNewTokens = maxNew ?? 0,
            NumSamples = samples ?? 0,
            Seed = seed ?? 0,
        };
        sampling.Stop.Add(stop);
        return sampling;
    }
}
