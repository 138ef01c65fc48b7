using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;

namespace Cai.AppHost.Tests;

/// <summary>Checks the application model the AppHost builds, without starting it.</summary>
public class AppModelTests
{
    [Fact]
    public async Task Pinned_replicas_get_their_own_CUDA_VISIBLE_DEVICES()
    {
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Cai_AppHost>(
        [
            "Cai:ArtifactsRoot=/tmp/cai-appmodel-test",
            "Cai:Services:generation:Replicas=2",
            "Cai:Services:generation:Gpus=0,1,2,3",
            "Cai:Services:ppo:Gpus=3",
        ]);
        var projects = builder.Resources.OfType<ProjectResource>().ToDictionary(p => p.Name);

        Assert.Contains("generation", projects.Keys);
        Assert.Contains("generation-1", projects.Keys);
        Assert.Equal("0,1", await EnvAsync(projects["generation"], "CUDA_VISIBLE_DEVICES"));
        Assert.Equal("2,3", await EnvAsync(projects["generation-1"], "CUDA_VISIBLE_DEVICES"));
        Assert.Equal("3", await EnvAsync(projects["ppo"], "CUDA_VISIBLE_DEVICES"));
        Assert.Null(await EnvAsync(projects["critique"], "CUDA_VISIBLE_DEVICES"));
        Assert.Equal(8, projects.Count); // seven services, generation twice
    }

    /// <summary>
    /// Runs the resource's environment callbacks and reads one literal value. Values are not resolved,
    /// because endpoint ports are only allocated when the application starts.
    /// </summary>
    private static async Task<string?> EnvAsync(ProjectResource resource, string name)
    {
        var environment = new Dictionary<string, object>();
        var context = new EnvironmentCallbackContext(
            new DistributedApplicationExecutionContext(DistributedApplicationOperation.Run), resource, environment, CancellationToken.None);
        foreach (var annotation in resource.Annotations.OfType<EnvironmentCallbackAnnotation>())
            await annotation.Callback(context);
        return environment.TryGetValue(name, out var value) ? value as string : null;
    }
}
