using System.Diagnostics;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.Serialization;

namespace Cai.AppHost.Tests;

/// <summary>
/// The Kubernetes manifests (deploy/k8s, kustomize) validated offline: every reference resolves inside them, every
/// service of the AppHost is deployed, probes use gRPC health, model services ask for GPUs, and the KEDA triggers
/// watch the streams and consumer groups the workers really use.
/// </summary>
public class DeploymentManifestTests
{
    private static readonly string K8s = Path.Combine(ContainerModeTests.RepoRoot(), "deploy", "k8s");
    private static readonly string[] GpuServices = ["generation", "sft", "preference-model", "ppo"];
    private static readonly Lazy<List<Node>> All = new(Load);

    /// <summary>A parsed YAML mapping with small helpers.</summary>
    private sealed class Node(Dictionary<object, object> map)
    {
        public Dictionary<object, object> Map { get; } = map;
        public string Kind => Str("kind");
        public string Name => Get("metadata")!.Str("name");
        public string Str(string key) => Map.TryGetValue(key, out var v) ? v?.ToString() ?? "" : "";
        public Node? Get(string key) => Map.TryGetValue(key, out var v) && v is Dictionary<object, object> m ? new Node(m) : null;
        public Node At(params string[] path) =>
            path.Aggregate(this, (n, key) => n.Get(key) ?? throw new Xunit.Sdk.XunitException($"{Kind}/{Name}: no '{key}' in {string.Join(".", path)}"));
        public List<Node> List(string key) =>
            Map.TryGetValue(key, out var v) && v is List<object> l ? [.. l.OfType<Dictionary<object, object>>().Select(m => new Node(m))] : [];
        public List<string> Strings(string key) =>
            Map.TryGetValue(key, out var v) && v is List<object> l ? [.. l.Select(x => x?.ToString() ?? "")] : [];
    }

    private static List<Node> Load()
    {
        var kustomization = ParseFile(Path.Combine(K8s, "kustomization.yaml")).Single();
        return [.. kustomization.Strings("resources").SelectMany(f => ParseFile(Path.Combine(K8s, f)))];
    }

    private static List<Node> ParseFile(string path)
    {
        Assert.True(File.Exists(path), $"{path} is listed but missing");
        var deserializer = new DeserializerBuilder().Build();
        var parser = new Parser(new StringReader(File.ReadAllText(path)));
        parser.Consume<StreamStart>();
        var docs = new List<Node>();
        while (parser.Accept<DocumentStart>(out _))
        {
            var doc = deserializer.Deserialize<Dictionary<object, object>?>(parser);
            if (doc is not null) docs.Add(new Node(doc));
        }
        return docs;
    }

    private static IEnumerable<Node> OfKind(string kind) => All.Value.Where(n => n.Kind == kind);
    private static Node Deployment(string name) => Assert.Single(OfKind("Deployment"), d => d.Name == name);
    private static Node Container(Node workload) => Assert.Single(workload.At("spec", "template", "spec").List("containers"));

    [Fact]
    public void Every_document_has_a_kind_and_a_name_and_names_are_unique_per_kind()
    {
        Assert.NotEmpty(All.Value);
        Assert.All(All.Value, n => Assert.False(string.IsNullOrEmpty(n.Kind) || string.IsNullOrEmpty(n.Str("apiVersion")) || string.IsNullOrEmpty(n.Name)));
        var duplicates = All.Value.GroupBy(n => (n.Kind, n.Name)).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.Empty(duplicates);
    }

    [Fact]
    public void Every_service_of_the_AppHost_has_a_Deployment_and_a_Service_that_selects_it()
    {
        Assert.Equal(CaiHostOptions.ServiceNames.Order(), OfKind("Deployment").Select(d => d.Name).Order());
        foreach (string name in CaiHostOptions.ServiceNames)
        {
            var deployment = Deployment(name);
            var podLabels = deployment.At("spec", "template", "metadata", "labels").Map;
            var service = Assert.Single(OfKind("Service"), s => s.Name == name);
            foreach (var (key, value) in service.At("spec", "selector").Map)
                Assert.True(podLabels.TryGetValue(key, out var v) && Equals(v, value), $"Service {name} selects {key}={value}, which its pods lack");
            foreach (var (key, value) in deployment.At("spec", "selector", "matchLabels").Map)
                Assert.Equal(value, podLabels[key]);
            var ports = Container(deployment).List("ports").Select(p => p.Str("name")).ToHashSet();
            Assert.All(service.At("spec").List("ports"), p => Assert.Contains(p.Str("targetPort"), ports));
        }
    }

    [Fact]
    public void Images_are_the_service_images_and_model_services_run_the_cuda_variant()
    {
        var kustomization = ParseFile(Path.Combine(K8s, "kustomization.yaml")).Single();
        var images = kustomization.List("images").ToDictionary(i => i.Str("name"));
        foreach (string name in CaiHostOptions.ServiceNames)
        {
            string image = Container(Deployment(name)).Str("image");
            Assert.Equal($"cai/{name}", image);
            Assert.True(images.TryGetValue(image, out var mapped), $"kustomization.yaml has no image entry for {image}");
            Assert.EndsWith($"/cai/{name}", mapped.Str("newName"));
            Assert.Equal(GpuServices.Contains(name), mapped.Str("newTag").EndsWith("-cuda", StringComparison.Ordinal));
        }
        var redis = Assert.Single(OfKind("StatefulSet"), s => s.Name == "redis");
        Assert.True(images.ContainsKey(Container(redis).Str("image")));
    }

    [Fact]
    public void Every_configmap_secret_and_volume_reference_resolves()
    {
        var configMaps = OfKind("ConfigMap").ToDictionary(c => c.Name);
        var secrets = OfKind("Secret").ToDictionary(s => s.Name);
        var claims = OfKind("PersistentVolumeClaim").Select(c => c.Name).ToHashSet();
        int checkedRefs = 0;
        foreach (var workload in OfKind("Deployment").Concat(OfKind("StatefulSet")))
        {
            var pod = workload.At("spec", "template", "spec");
            var container = Container(workload);
            foreach (var source in container.List("envFrom"))
                if (source.Get("configMapRef") is { } cm) { Assert.Contains(cm.Str("name"), configMaps.Keys); checkedRefs++; }
            foreach (var env in container.List("env"))
            {
                if (env.Get("valueFrom")?.Get("secretKeyRef") is { } s)
                {
                    Assert.True(secrets.TryGetValue(s.Str("name"), out var secret), $"{workload.Name}: no Secret {s.Str("name")}");
                    var keys = new[] { secret.Get("stringData"), secret.Get("data") }.OfType<Node>().SelectMany(n => n.Map.Keys).Select(k => k.ToString());
                    Assert.Contains(s.Str("key"), keys);
                    checkedRefs++;
                }
                if (env.Get("valueFrom")?.Get("configMapKeyRef") is { } c)
                    Assert.True(configMaps.TryGetValue(c.Str("name"), out var map) && map.At("data").Map.ContainsKey(c.Str("key")));
                // $(VAR) references must name a variable defined earlier in the same container.
                foreach (Match m in Regex.Matches(env.Str("value"), @"\$\(([A-Za-z_][A-Za-z0-9_]*)\)"))
                    Assert.Contains(m.Groups[1].Value, container.List("env").TakeWhile(e => e != env).Select(e => e.Str("name")));
            }
            var volumes = pod.List("volumes").ToDictionary(v => v.Str("name"));
            foreach (var mount in container.List("volumeMounts"))
            {
                bool template = workload.At("spec").List("volumeClaimTemplates").Any(t => t.Name == mount.Str("name"));
                Assert.True(template || volumes.ContainsKey(mount.Str("name")), $"{workload.Name}: mount {mount.Str("name")} has no volume");
            }
            foreach (var volume in volumes.Values)
                if (volume.Get("persistentVolumeClaim") is { } pvc) { Assert.Contains(pvc.Str("claimName"), claims); checkedRefs++; }
        }
        foreach (var auth in OfKind("TriggerAuthentication"))
            foreach (var target in auth.At("spec").List("secretTargetRef"))
                Assert.True(secrets.TryGetValue(target.Str("name"), out var s) && s.Get("stringData")!.Map.ContainsKey(target.Str("key")));
        Assert.True(checkedRefs >= 3 * CaiHostOptions.ServiceNames.Length, $"only {checkedRefs} references were checked");
    }

    [Fact]
    public void Services_find_each_other_through_cluster_services_and_redis_needs_the_secret_password()
    {
        var config = Assert.Single(OfKind("ConfigMap"), c => c.Name == "cai-config").At("data").Map;
        var services = OfKind("Service").Select(s => s.Name).ToHashSet();
        foreach (string name in CaiHostOptions.ServiceNames)
            Assert.Equal($"http://{name}:8080", config[$"services__{name}__grpc__0"]);
        Assert.All(config.Keys.Select(k => k.ToString()!).Where(k => k.StartsWith("services__", StringComparison.Ordinal)),
            k => Assert.Contains(k.Split("__")[1], services));
        Assert.Equal("0.0.0.0", config["Cai__BindAddress"]);
        Assert.DoesNotContain(config.Values, v => v?.ToString()?.Contains("password", StringComparison.OrdinalIgnoreCase) == true);

        foreach (string name in CaiHostOptions.ServiceNames)
        {
            var env = Container(Deployment(name)).List("env").ToDictionary(e => e.Str("name"));
            Assert.Equal("redis:6379,password=$(REDIS_PASSWORD),abortConnect=false", env["ConnectionStrings__redis"].Str("value"));
            Assert.Equal("cai-redis", env["REDIS_PASSWORD"].At("valueFrom", "secretKeyRef").Str("name"));
        }
        var redis = Container(Assert.Single(OfKind("StatefulSet"), s => s.Name == "redis"));
        Assert.Contains("--requirepass \"$REDIS_PASSWORD\"", string.Join(" ", redis.Strings("args")));
        Assert.Contains("--appendonly yes", string.Join(" ", redis.Strings("args")));
        Assert.Contains(Assert.Single(OfKind("StatefulSet")).At("spec").List("volumeClaimTemplates"), t => t.Name == "data");
    }

    [Fact]
    public void Probes_use_grpc_health_on_the_grpc_port_and_pods_run_as_the_images_non_root_user()
    {
        foreach (string name in CaiHostOptions.ServiceNames)
        {
            var deployment = Deployment(name);
            var container = Container(deployment);
            int grpcPort = int.Parse(Assert.Single(container.List("ports"), p => p.Str("name") == "grpc").Str("containerPort"));
            foreach (string probe in new[] { "readinessProbe", "livenessProbe", "startupProbe" })
                Assert.Equal(grpcPort, int.Parse(container.At(probe, "grpc").Str("port")));
            var security = deployment.At("spec", "template", "spec", "securityContext");
            Assert.Equal("true", security.Str("runAsNonRoot"));
            Assert.Equal("1654", security.Str("runAsUser"));
            Assert.Equal("false", container.At("securityContext").Str("allowPrivilegeEscalation"));
        }
    }

    [Fact]
    public void Model_services_request_a_gpu_on_the_gpu_pool_and_the_others_do_not()
    {
        foreach (string name in CaiHostOptions.ServiceNames)
        {
            var deployment = Deployment(name);
            var pod = deployment.At("spec", "template", "spec");
            var limits = Container(deployment).At("resources", "limits").Map;
            bool gpu = GpuServices.Contains(name);
            Assert.Equal(gpu, limits.ContainsKey("nvidia.com/gpu"));
            Assert.Equal(gpu, pod.Get("nodeSelector") is not null);
            Assert.True(limits.ContainsKey("memory"), $"{name} has no memory limit");
            if (gpu)
            {
                Assert.Equal("1", limits["nvidia.com/gpu"].ToString());
                Assert.Equal("gpu", pod.At("nodeSelector").Str("cai.example.com/pool"));
                Assert.Contains(pod.List("tolerations"), t => t.Str("key") == "nvidia.com/gpu");
            }
        }
    }

    [Fact]
    public void KEDA_scales_the_stream_workers_on_their_own_stream_and_consumer_group()
    {
        // What the workers really consume: the stream name constants and the consumer groups in the source.
        string root = ContainerModeTests.RepoRoot();
        string records = File.ReadAllText(Path.Combine(root, "src", "Cai.Inference", "StageRecords.cs"));
        string keys = File.ReadAllText(Path.Combine(root, "src", "Cai.Streams", "StreamKeys.cs"));
        Assert.Contains("return $\"cai:{{{runId}}}:{name}\";", keys); // the key layout the triggers spell out
        var expected = new Dictionary<string, (string Stream, string Group)>
        {
            ["critique"] = (Constant(records, "Prompts"), Constant(File.ReadAllText(Path.Combine(root, "services", "Critique", "Workers", "CritiqueWorker.cs")), "Group")),
            ["labeling"] = (Constant(records, "Pairs"), Constant(File.ReadAllText(Path.Combine(root, "services", "Labeling", "Workers", "LabelingWorker.cs")), "Group")),
        };
        var scaled = OfKind("ScaledObject").ToDictionary(s => s.At("spec", "scaleTargetRef").Str("name"));
        Assert.Equal(expected.Keys.Order(), scaled.Keys.Order());
        var auths = OfKind("TriggerAuthentication").Select(a => a.Name).ToHashSet();
        var services = OfKind("Service").Select(s => s.Name).ToHashSet();
        foreach (var (target, (stream, group)) in expected)
        {
            Deployment(target); // the target exists
            Assert.Equal("Deployment", scaled[target].At("spec", "scaleTargetRef").Str("kind"));
            var triggers = scaled[target].At("spec").List("triggers");
            Assert.Contains(triggers, t => t.At("metadata").Map.ContainsKey("lagCount"));
            Assert.Contains(triggers, t => t.At("metadata").Map.ContainsKey("pendingEntriesCount"));
            foreach (var trigger in triggers)
            {
                Assert.Equal("redis-streams", trigger.Str("type"));
                var metadata = trigger.At("metadata");
                Assert.Matches($"^cai:\\{{[^{{}}\\s]+\\}}:{Regex.Escape(stream)}$", metadata.Str("stream"));
                Assert.Equal(group, metadata.Str("consumerGroup"));
                Assert.Contains(metadata.Str("address").Split(':')[0], services);
                Assert.Contains(trigger.At("authenticationRef").Str("name"), auths);
            }
        }
    }

    [Fact]
    public async Task Kustomize_renders_the_manifests_when_kubectl_is_installed()
    {
        string? kubectl = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Select(d => Path.Combine(d, "kubectl")).FirstOrDefault(File.Exists);
        if (kubectl is null) return; // the YAML checks above still ran; deploy/test-containers.sh runs kustomize in CI
        var start = new ProcessStartInfo(kubectl, ["kustomize", K8s]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        string stderr = await process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, stderr);
        string rendered = await stdout;
        Assert.Equal(All.Value.Count, Regex.Matches(rendered, "^kind: ", RegexOptions.Multiline).Count);
        Assert.Contains("namespace: cai", rendered);
        Assert.Contains("image: registry.example.com/cai/generation:dev-cuda", rendered);
    }

    private static string Constant(string source, string name)
    {
        var match = Regex.Match(source, $@"const string {name} = ""([^""]+)"";");
        Assert.True(match.Success, $"constant {name} not found");
        return match.Groups[1].Value;
    }
}
