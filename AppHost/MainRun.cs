using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Cai.AppHost;

/// <summary>
/// The main job: the orchestrator starts (or resumes) the run of <c>Cai:Profile</c> ("default", "smoke", a run
/// configuration file, or "none" for no run) as run <c>Cai:RunId</c> (default main-{profile}) in
/// <c>Cai:ArtifactsRoot</c>. The AppHost follows the run's state.json: when the run ends it logs the outcome and
/// the report's path and stays up with the dashboard, or, with <c>Cai:ExitWhenDone=true</c>, stops with exit code 0
/// (done) or 1 (failed). Restarting the AppHost resumes an unfinished run and never redoes a finished one.
/// </summary>
public sealed record MainRunOptions(string Profile, string RunId, bool ExitWhenDone, string StateFile)
{
    public bool Enabled => Profile is not ("none" or "");

    public static MainRunOptions Load(IConfiguration configuration, CaiHostOptions cai)
    {
        var section = configuration.GetSection("Cai");
        string profile = cai.Profile.Trim();
        string runId = section["RunId"] is { Length: > 0 } id ? id : "main-" + Path.GetFileNameWithoutExtension(profile);
        bool exit = bool.TryParse(section["ExitWhenDone"], out bool e) && e;
        return new MainRunOptions(profile, runId, exit, Path.Combine(cai.ArtifactsRoot, runId, "state.json"));
    }
}

/// <summary>Follows the main run's state.json and ends the AppHost when asked to (see <see cref="MainRunOptions"/>).</summary>
public sealed class MainRunWatcher(MainRunOptions options, IHostApplicationLifetime lifetime, ILogger<MainRunWatcher> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Enabled) return;
        logger.LogInformation("Main run {RunId} ({Profile}); its state: {StateFile}", options.RunId, options.Profile, options.StateFile);
        string? lastStatus = null;
        var started = DateTimeOffset.UtcNow;
        while (!stoppingToken.IsCancellationRequested)
        {
            await Task.Delay(TimeSpan.FromSeconds(2), stoppingToken);
            if (!File.Exists(options.StateFile)) continue;
            string status, report, message;
            DateTimeOffset updated;
            try
            {
                using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(options.StateFile, stoppingToken));
                var root = doc.RootElement;
                status = root.GetProperty("status").GetString() ?? "";
                report = root.TryGetProperty("report_path", out var r) ? r.GetString() ?? "" : "";
                message = root.TryGetProperty("message", out var m) ? m.GetString() ?? "" : "";
                updated = root.TryGetProperty("updated_utc", out var u) && u.TryGetDateTimeOffset(out var at) ? at : DateTimeOffset.MinValue;
            }
            catch (Exception e) when (e is JsonException or IOException or KeyNotFoundException)
            {
                continue; // being rewritten
            }
            // A failure left by an earlier start is tried again by the orchestrator: wait for news from this one.
            if (status == "failed" && updated < started) continue;
            if (status == lastStatus) continue;
            lastStatus = status;
            if (status == "done")
            {
                logger.LogInformation("Main run {RunId} done. Report: {Report}", options.RunId, report);
            }
            else if (status == "failed")
            {
                logger.LogError("Main run {RunId} failed: {Message}", options.RunId, message);
            }
            else continue;
            if (options.ExitWhenDone)
            {
                Environment.ExitCode = status == "done" ? 0 : 1;
                lifetime.StopApplication();
            }
            else logger.LogInformation("The AppHost stays up (dashboard open); Ctrl+C to stop, or set Cai:ExitWhenDone=true to exit when the run ends");
            return;
        }
    }
}

public static class MainRunExtensions
{
    /// <summary>Registers the watcher of the main run.</summary>
    public static MainRunOptions AddMainRun(this IDistributedApplicationBuilder builder, CaiHostOptions cai)
    {
        var options = MainRunOptions.Load(builder.Configuration, cai);
        builder.Services.AddSingleton(options);
        builder.Services.AddHostedService<MainRunWatcher>();
        return options;
    }
}
