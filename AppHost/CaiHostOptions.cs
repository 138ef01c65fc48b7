using Microsoft.Extensions.Configuration;

namespace Cai.AppHost;

/// <summary>How one service runs: replicas and the GPUs its replicas are pinned to.</summary>
public sealed record ServiceHostOptions(int Replicas, IReadOnlyList<int> Gpus);

/// <summary>
/// The AppHost's configuration (section "Cai"), validated before anything starts: a bad value stops
/// the host with a message naming the key. Configuration decides, not code: model and artifacts paths,
/// replicas per service, GPU pinning, Redis mode.
/// </summary>
public sealed record CaiHostOptions(
    string ArtifactsRoot,
    string BaseModel,
    string RedisMode,
    string Profile,
    IReadOnlyDictionary<string, ServiceHostOptions> Services)
{
    /// <summary>Resource names of the services, in pipeline order.</summary>
    public static readonly string[] ServiceNames =
        ["generation", "critique", "sft", "labeling", "preference-model", "ppo", "orchestrator"];

    public static readonly string[] RedisModes = ["auto", "container", "executable"];

    /// <summary>Cai:Mode (processes, the default, or containers) and the containers mode's settings (ContainerMode.cs).</summary>
    public ContainerHostOptions Containers { get; init; } = ContainerHostOptions.Processes;

    public static CaiHostOptions Load(IConfiguration configuration, string contentRoot)
    {
        var section = configuration.GetSection("Cai");
        var errors = new List<string>();

        string artifacts = section["ArtifactsRoot"] ?? "";
        if (string.IsNullOrWhiteSpace(artifacts))
            errors.Add("Cai:ArtifactsRoot is missing: set it to the folder that receives runs, checkpoints and Redis data.");
        else if (!Path.IsPathRooted(artifacts))
            artifacts = Path.GetFullPath(Path.Combine(contentRoot, artifacts));

        string redisMode = (section["Redis:Mode"] ?? "auto").Trim().ToLowerInvariant();
        if (!RedisModes.Contains(redisMode))
            errors.Add($"Cai:Redis:Mode is '{section["Redis:Mode"]}'; expected one of {string.Join(", ", RedisModes)}.");

        var services = new Dictionary<string, ServiceHostOptions>();
        foreach (var child in section.GetSection("Services").GetChildren())
        {
            if (!ServiceNames.Contains(child.Key))
                errors.Add($"Cai:Services:{child.Key} is not a service; known services: {string.Join(", ", ServiceNames)}.");
        }
        foreach (string name in ServiceNames)
        {
            var s = section.GetSection($"Services:{name}");
            int replicas = 1;
            string? rawReplicas = s["Replicas"];
            if (rawReplicas is not null && (!int.TryParse(rawReplicas, out replicas) || replicas < 1))
            {
                errors.Add($"Cai:Services:{name}:Replicas is '{rawReplicas}'; it must be a whole number >= 1.");
                replicas = 1;
            }
            var gpus = new List<int>();
            foreach (string raw in ReadList(s, "Gpus"))
            {
                if (int.TryParse(raw, out int id) && id >= 0) gpus.Add(id);
                else errors.Add($"Cai:Services:{name}:Gpus has '{raw}'; GPU ids are whole numbers >= 0.");
            }
            services[name] = new ServiceHostOptions(replicas, gpus);
        }

        var containers = ContainerHostOptions.Load(section, errors);
        if (errors.Count > 0)
            throw new HostConfigurationException("Invalid AppHost configuration:\n  " + string.Join("\n  ", errors));
        string baseModel = section["BaseModel"] ?? "";
        if (baseModel.Length > 0 && !Path.IsPathRooted(baseModel))
            baseModel = Path.GetFullPath(Path.Combine(contentRoot, baseModel));
        return new CaiHostOptions(artifacts, baseModel, redisMode, section["Profile"] ?? "default", services) { Containers = containers };
    }

    /// <summary>Accepts both "0,1" and a JSON array / indexed keys (Gpus:0, Gpus:1).</summary>
    private static IEnumerable<string> ReadList(IConfigurationSection section, string key)
    {
        string? scalar = section[key];
        if (scalar is not null)
            return scalar.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return section.GetSection(key).GetChildren().Select(c => c.Value ?? "");
    }
}

/// <summary>A configuration or environment problem that stops the AppHost before anything starts.</summary>
public sealed class HostConfigurationException(string message) : InvalidOperationException(message);
