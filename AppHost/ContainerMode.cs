using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Configuration;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Cai.AppHost;

/// <summary>Container limits of one service (every replica gets them).</summary>
/// <param name="Memory">Memory limit in the runtime's syntax ("4g", "512m"), or null for none.</param>
/// <param name="Cpus">CPU limit (1.5 = one and a half cores), or null for none.</param>
public sealed record ContainerServiceOptions(string? Memory, double? Cpus);

/// <summary>
/// The containers mode of the AppHost (<c>Cai:Mode=containers</c>): which images, how GPUs are handed to a container,
/// and limits per service. Read from configuration only; <c>Cai:Mode=processes</c> (the default) ignores all of it.
/// </summary>
/// <param name="Enabled">True for <c>Cai:Mode=containers</c>.</param>
/// <param name="Registry">Registry of the service images (<c>Cai:Containers:Registry</c>, default <c>localhost</c>, where
/// deploy/build-images.sh tags them); empty for none.</param>
/// <param name="Tag">Tag of the service images (<c>Cai:Containers:Tag</c>, default <c>dev</c>).</param>
/// <param name="GpuTagSuffix">Appended to the tag of replicas pinned to GPUs (<c>Cai:Containers:GpuTagSuffix</c>, default
/// <c>-cuda</c>: the images of deploy/Dockerfile.gpu).</param>
/// <param name="GpuDevices">How a pinned replica gets its GPUs: <c>docker</c> (<c>--gpus device=N</c>, the NVIDIA container
/// runtime) or <c>cdi</c> (podman's <c>--device nvidia.com/gpu=N</c>); <c>auto</c> in configuration picks cdi under podman.</param>
/// <param name="User">Optional <c>uid:gid</c> the service containers run as (<c>Cai:Containers:User</c>); default the image's
/// non-root user (1654).</param>
/// <param name="Services">Limits per service (<c>Cai:Services:&lt;name&gt;:Memory</c> and <c>:Cpus</c>).</param>
public sealed record ContainerHostOptions(
    bool Enabled, string Registry, string Tag, string GpuTagSuffix, string GpuDevices, string? User,
    IReadOnlyDictionary<string, ContainerServiceOptions> Services)
{
    public static readonly string[] Modes = ["processes", "containers"];
    public static readonly string[] GpuDeviceStyles = ["auto", "docker", "cdi"];

    /// <summary>Process mode: nothing of this record is used.</summary>
    public static ContainerHostOptions Processes { get; } =
        new(false, "localhost", "dev", "-cuda", "docker", null, new Dictionary<string, ContainerServiceOptions>());

    private static readonly Regex MemorySyntax = new("^[0-9]+[bkmg]?$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
    private static readonly Regex UserSyntax = new("^[0-9]+(:[0-9]+)?$", RegexOptions.CultureInvariant);

    /// <summary>Reads <c>Cai:Mode</c>, <c>Cai:Containers:*</c> and the per-service limits; problems go to <paramref name="errors"/>.</summary>
    public static ContainerHostOptions Load(IConfigurationSection cai, ICollection<string> errors)
    {
        string mode = (cai["Mode"] ?? "processes").Trim().ToLowerInvariant();
        if (!Modes.Contains(mode))
            errors.Add($"Cai:Mode is '{cai["Mode"]}'; expected one of {string.Join(", ", Modes)}.");
        var section = cai.GetSection("Containers");

        string gpuDevices = (section["GpuDevices"] ?? "auto").Trim().ToLowerInvariant();
        if (!GpuDeviceStyles.Contains(gpuDevices))
            errors.Add($"Cai:Containers:GpuDevices is '{section["GpuDevices"]}'; expected one of {string.Join(", ", GpuDeviceStyles)}.");
        if (gpuDevices == "auto")
            gpuDevices = string.Equals(Environment.GetEnvironmentVariable("ASPIRE_CONTAINER_RUNTIME"), "podman", StringComparison.OrdinalIgnoreCase)
                ? "cdi" : "docker";

        string tag = section["Tag"] ?? Processes.Tag;
        if (string.IsNullOrWhiteSpace(tag)) errors.Add("Cai:Containers:Tag must not be empty.");
        string? user = string.IsNullOrWhiteSpace(section["User"]) ? null : section["User"]!.Trim();
        if (user is not null && !UserSyntax.IsMatch(user))
            errors.Add($"Cai:Containers:User is '{user}'; expected a numeric uid or uid:gid.");
        if (user is not null && user.Split(':')[0] == "0")
            errors.Add("Cai:Containers:User must not be root (0): the images run as a non-root user.");

        var services = new Dictionary<string, ContainerServiceOptions>();
        foreach (string name in CaiHostOptions.ServiceNames)
        {
            var s = cai.GetSection($"Services:{name}");
            string? memory = string.IsNullOrWhiteSpace(s["Memory"]) ? null : s["Memory"]!.Trim();
            if (memory is not null && !MemorySyntax.IsMatch(memory))
                errors.Add($"Cai:Services:{name}:Memory is '{memory}'; expected a size such as 512m or 4g.");
            double? cpus = null;
            if (!string.IsNullOrWhiteSpace(s["Cpus"]))
            {
                if (double.TryParse(s["Cpus"], NumberStyles.Float, CultureInfo.InvariantCulture, out double c) && c > 0 && double.IsFinite(c))
                    cpus = c;
                else
                    errors.Add($"Cai:Services:{name}:Cpus is '{s["Cpus"]}'; expected a number of cores > 0, such as 1.5.");
            }
            services[name] = new ContainerServiceOptions(memory, cpus);
        }
        return new ContainerHostOptions(mode == "containers", (section["Registry"] ?? Processes.Registry).Trim(), tag.Trim(),
            section["GpuTagSuffix"] ?? Processes.GpuTagSuffix, gpuDevices, user, services);
    }

    /// <summary>The container runtime's arguments that give a container exactly these GPUs (host ids).</summary>
    public IReadOnlyList<string> GpuArguments(IReadOnlyList<int> gpus)
    {
        if (gpus.Count == 0) return [];
        if (GpuDevices == "cdi")
            return [.. gpus.SelectMany(id => new[] { "--device", $"nvidia.com/gpu={id}" })];
        // Docker splits --gpus on commas unless the device list is quoted: "device=0,1".
        string devices = string.Join(',', gpus);
        return ["--gpus", gpus.Count == 1 ? $"device={devices}" : $"\"device={devices}\""];
    }

    /// <summary>Memory and CPU limit arguments of a service's containers.</summary>
    public IReadOnlyList<string> LimitArguments(string service)
    {
        if (!Services.TryGetValue(service, out var limits)) return [];
        var args = new List<string>();
        if (limits.Memory is not null) args.AddRange(["--memory", limits.Memory]);
        if (limits.Cpus is double cpus) args.AddRange(["--cpus", cpus.ToString(CultureInfo.InvariantCulture)]);
        return args;
    }
}

/// <summary>All replica containers of one service (each replica is its own resource: containers have no replica count).</summary>
public sealed class CaiContainerService(string name, IReadOnlyList<IResourceBuilder<ContainerResource>> replicas)
{
    public string Name { get; } = name;
    public IReadOnlyList<IResourceBuilder<ContainerResource>> Replicas { get; } = replicas;

    public CaiContainerService WithReference(IResourceBuilder<IResourceWithConnectionString> resource)
    {
        foreach (var r in Replicas) r.WithReference(resource);
        return this;
    }

    /// <summary>This service calls <paramref name="other"/> over gRPC (every replica of it), container to container.</summary>
    public CaiContainerService WithReference(CaiContainerService other)
    {
        foreach (var r in Replicas)
            foreach (var o in other.Replicas)
                r.WithReference(o.GetEndpoint("grpc"));
        return this;
    }

    public CaiContainerService WaitFor(IResourceBuilder<IResource> resource)
    {
        foreach (var r in Replicas) r.WaitFor(resource);
        return this;
    }

    /// <summary>Starts only once every replica of <paramref name="other"/> is healthy.</summary>
    public CaiContainerService WaitFor(CaiContainerService other)
    {
        foreach (var r in Replicas)
            foreach (var o in other.Replicas)
                r.WaitFor(o);
        return this;
    }

    public CaiContainerService WithEnvironment(string name, string value)
    {
        foreach (var r in Replicas) r.WithEnvironment(name, value);
        return this;
    }
}

/// <summary>
/// The pipeline with every service in its container (images from deploy/build-images.sh) and Redis as Aspire's Redis
/// container with its generated password. The wiring mirrors Program.cs; ContainerModeTests compares the two graphs.
/// </summary>
public static class ContainerMode
{
    public const int GrpcPort = 8080;
    public const int HttpPort = 8081;

    /// <summary>Builds the containers-mode application and runs it until it is stopped (or the main run ends, when asked).</summary>
    public static int Run(IDistributedApplicationBuilder builder, CaiHostOptions cai)
    {
        AddPipeline(builder, cai);
        builder.Build().Run();
        return Environment.ExitCode;
    }

    /// <summary>Adds Redis and every service, wired as in process mode (Program.cs), and the main run.</summary>
    public static void AddPipeline(IDistributedApplicationBuilder builder, CaiHostOptions cai)
    {
        PrepareArtifactsRoot(cai.ArtifactsRoot);
        string dataDir = Path.Combine(cai.ArtifactsRoot, "redis");
        Directory.CreateDirectory(dataDir);
        // AddRedis generates a secret parameter (redis-password): the server gets it as REDIS_PASSWORD, clients in
        // their connection string; neither is ever a literal argument.
        var redisContainer = builder.AddRedis("redis").WithDataBindMount(dataDir).WithPersistence(TimeSpan.FromSeconds(10));
        var redis = builder.CreateResourceBuilder<IResourceWithConnectionString>(redisContainer.Resource);
        var mounts = Mounts(builder.AppHostDirectory, cai);

        var generation = builder.AddCaiContainer("generation", cai, mounts).WithReference(redis).WaitFor(redis);
        var critique = builder.AddCaiContainer("critique", cai, mounts).WithReference(redis).WaitFor(redis).WithReference(generation);
        var sft = builder.AddCaiContainer("sft", cai, mounts).WithReference(redis).WaitFor(redis);
        var labeling = builder.AddCaiContainer("labeling", cai, mounts).WithReference(redis).WaitFor(redis).WithReference(generation);
        var preferenceModel = builder.AddCaiContainer("preference-model", cai, mounts).WithReference(redis).WaitFor(redis);
        var ppo = builder.AddCaiContainer("ppo", cai, mounts).WithReference(redis).WaitFor(redis).WithReference(preferenceModel);

        var mainRun = builder.AddMainRun(cai);
        builder.AddCaiContainer("orchestrator", cai, mounts).WithReference(redis).WaitFor(redis)
            .WithReference(generation).WithReference(critique).WithReference(sft)
            .WithReference(labeling).WithReference(preferenceModel).WithReference(ppo)
            .WaitFor(generation).WaitFor(critique).WaitFor(sft).WaitFor(labeling).WaitFor(preferenceModel).WaitFor(ppo)
            .WithEnvironment("Cai__Profile", mainRun.Profile)
            .WithEnvironment("Cai__RunId", mainRun.RunId);
    }

    /// <summary>A host folder bind-mounted at the same path inside every service container.</summary>
    public sealed record Mount(string Path, bool ReadOnly);

    /// <summary>
    /// What the containers see of the host, each at its host path, so that every path a service or the orchestrator
    /// writes (run folders, state.json, report paths, model folders) means the same inside and outside: the repository
    /// (read-only: models/, constitutions/, run configurations), ../shared beside it when present (read-only data),
    /// the base model when it lies elsewhere (read-only), and the artifacts root (read-write).
    /// </summary>
    public static IReadOnlyList<Mount> Mounts(string appHostDirectory, CaiHostOptions cai)
    {
        string repository = RepositoryRoot(appHostDirectory);
        var mounts = new List<Mount> { new(repository, true) };
        string shared = Path.GetFullPath(Path.Combine(repository, "..", "shared"));
        if (Directory.Exists(shared)) mounts.Add(new Mount(shared, true));
        if (cai.BaseModel.Length > 0 && !mounts.Any(m => IsUnder(cai.BaseModel, m.Path)))
            mounts.Add(new Mount(cai.BaseModel, true));
        mounts.Add(new Mount(cai.ArtifactsRoot, false)); // may lie inside the repository: mounted over it, writable
        return mounts;
    }

    /// <summary>The repository (the folder above AppHost/), where the orchestrator resolves run configurations' paths.</summary>
    public static string RepositoryRoot(string appHostDirectory) => Path.GetFullPath(Path.Combine(appHostDirectory, ".."));

    private static bool IsUnder(string path, string folder)
    {
        string relative = Path.GetRelativePath(folder, path);
        return relative != ".." && !relative.StartsWith(".." + Path.DirectorySeparatorChar, StringComparison.Ordinal) && !Path.IsPathRooted(relative);
    }

    /// <summary>
    /// One service from its image: gRPC (h2c) on 8080, /health on 8081 bound to all interfaces inside the container,
    /// the host folders of <see cref="Mounts"/> at their own paths, limits and GPU devices as configured. Replicas are separate resources
    /// (name, name-1, ...); a pinned replica gets its GPUs as runtime device arguments, the CUDA image, and
    /// CUDA_VISIBLE_DEVICES numbered as the container sees them (the runtime renumbers the devices it hands in from 0).
    /// </summary>
    public static CaiContainerService AddCaiContainer(
        this IDistributedApplicationBuilder builder, string name, CaiHostOptions cai, IReadOnlyList<Mount> mounts)
    {
        var service = cai.Services[name];
        var containers = cai.Containers;
        var replicas = new List<IResourceBuilder<ContainerResource>>();
        foreach (var placement in Placements(name, service))
        {
            bool pinned = placement.Gpus.Count > 0;
            var container = builder.AddContainer(placement.ResourceName, $"cai/{name}", containers.Tag + (pinned ? containers.GpuTagSuffix : ""))
                .WithHttpEndpoint(targetPort: GrpcPort, name: "grpc")
                .WithHttpEndpoint(targetPort: HttpPort, name: "http")
                .WithHttpHealthCheck("/health", endpointName: "http")
                .WithEnvironment("Cai__ServiceName", name)
                .WithEnvironment("Cai__BindAddress", "0.0.0.0")
                .WithEnvironment("CAI_GRPC_PORT", GrpcPort.ToString(CultureInfo.InvariantCulture))
                .WithEnvironment("CAI_HTTP_PORT", HttpPort.ToString(CultureInfo.InvariantCulture))
                .WithEnvironment("Cai__ArtifactsRoot", cai.ArtifactsRoot)
                .WithEnvironment("Cai__BaseModel", cai.BaseModel)
                .WithEnvironment("Cai__RepositoryRoot", RepositoryRoot(builder.AppHostDirectory));
            foreach (var mount in mounts) container.WithBindMount(mount.Path, mount.Path, mount.ReadOnly);
            if (containers.Registry.Length > 0) container.WithImageRegistry(containers.Registry);

            var args = new List<string>(containers.LimitArguments(name));
            if (containers.User is not null) args.AddRange(["--user", containers.User]);
            if (pinned)
            {
                args.AddRange(containers.GpuArguments(placement.Gpus));
                container.WithEnvironment("CUDA_VISIBLE_DEVICES", string.Join(',', Enumerable.Range(0, placement.Gpus.Count)));
            }
            if (args.Count > 0) container.WithContainerRuntimeArgs([.. args]);
            replicas.Add(container);
        }
        return new CaiContainerService(name, replicas);
    }

    /// <summary>Replica names and GPUs: the GPU plan when pinned, else name, name-1, ... without GPUs.</summary>
    public static IReadOnlyList<ReplicaPlacement> Placements(string name, ServiceHostOptions service) =>
        service.Gpus.Count > 0
            ? GpuPinning.Plan(name, service.Replicas, service.Gpus)
            : [.. Enumerable.Range(0, service.Replicas).Select(r => new ReplicaPlacement(r == 0 ? name : $"{name}-{r}", r, []))];

    /// <summary>
    /// The artifacts root must exist and be writable by the containers' non-root user (uid 1654 unless Cai:Containers:User
    /// says otherwise), whose uid the host does not know: on Unix the folder is opened to others (rwx) when it is not.
    /// </summary>
    private static void PrepareArtifactsRoot(string root)
    {
        Directory.CreateDirectory(root);
        if (OperatingSystem.IsWindows()) return;
        var mode = File.GetUnixFileMode(root);
        const UnixFileMode others = UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
        if ((mode & others) != others) File.SetUnixFileMode(root, mode | others);
    }
}
