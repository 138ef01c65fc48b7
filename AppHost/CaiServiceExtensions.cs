using Aspire.Hosting.ApplicationModel;

namespace Cai.AppHost;

/// <summary>All replicas of one service (several resources when replicas are pinned to GPUs).</summary>
public sealed class CaiService(string name, IReadOnlyList<IResourceBuilder<ProjectResource>> replicas)
{
    public string Name { get; } = name;
    public IReadOnlyList<IResourceBuilder<ProjectResource>> Replicas { get; } = replicas;

    public CaiService WithReference(IResourceBuilder<IResourceWithConnectionString> resource)
    {
        foreach (var r in Replicas) r.WithReference(resource);
        return this;
    }

    /// <summary>This service calls <paramref name="other"/> over gRPC (every replica of it).</summary>
    public CaiService WithReference(CaiService other)
    {
        foreach (var r in Replicas)
            foreach (var o in other.Replicas)
                r.WithReference(o.GetEndpoint("grpc"));
        return this;
    }

    public CaiService WaitFor(IResourceBuilder<IResource> resource)
    {
        foreach (var r in Replicas) r.WaitFor(resource);
        return this;
    }

    /// <summary>This service starts once every replica of <paramref name="other"/> is healthy.</summary>
    public CaiService WaitFor(CaiService other)
    {
        foreach (var r in Replicas)
            foreach (var o in other.Replicas)
                r.WaitFor(o);
        return this;
    }

    /// <summary>Sets an environment variable on every replica.</summary>
    public CaiService WithEnvironment(string name, string value)
    {
        foreach (var r in Replicas) r.WithEnvironment(name, value);
        return this;
    }
}

public static class CaiServiceExtensions
{
    /// <summary>
    /// A CAI service: gRPC over HTTP/2 on the "grpc" endpoint, health on the HTTP/1.1 "http" endpoint,
    /// the shared configuration in its environment, and its replicas, pinned to GPUs when configured.
    /// </summary>
    public static CaiService AddCaiService<TProject>(
        this IDistributedApplicationBuilder builder, string name, CaiHostOptions options)
        where TProject : IProjectMetadata, new()
    {
        var service = options.Services[name];
        var replicas = new List<IResourceBuilder<ProjectResource>>();
        bool pinned = service.Gpus.Count > 0;
        foreach (var placement in GpuPinning.Plan(name, pinned ? service.Replicas : 1, service.Gpus))
        {
            var project = builder.AddProject<TProject>(placement.ResourceName, launchProfileName: null)
                .WithHttpEndpoint(name: "grpc", env: "CAI_GRPC_PORT")
                .WithHttpEndpoint(name: "http", env: "CAI_HTTP_PORT")
                .WithHttpHealthCheck("/health", endpointName: "http")
                .WithEnvironment("Cai__ArtifactsRoot", options.ArtifactsRoot)
                .WithEnvironment("Cai__BaseModel", options.BaseModel)
                .WithEnvironment("Cai__ServiceName", name);
            if (pinned)
                project.WithEnvironment("CUDA_VISIBLE_DEVICES", placement.CudaVisibleDevices);
            else if (service.Replicas > 1)
                project.WithReplicas(service.Replicas);
            replicas.Add(project);
        }
        return new CaiService(name, replicas);
    }
}
