using Cai.Core.Configuration;

namespace Cai.Core.Tests;

public class RunConfigurationTests
{
    [Fact]
    public void Profiles_are_valid_and_smoke_is_tiny()
    {
        Assert.Empty(RunConfiguration.Default.Validate());
        Assert.Empty(RunConfiguration.Smoke.Validate());
        Assert.Equal(1000, RunConfiguration.Default.SlCai.RedTeamPrompts);
        Assert.Equal(60, RunConfiguration.Default.Ppo.Iterations);
        Assert.Equal(32, RunConfiguration.Smoke.SlCai.RedTeamPrompts);
        Assert.True(RunConfiguration.Smoke.Ppo.Iterations < RunConfiguration.Default.Ppo.Iterations);
        Assert.Same(RunConfiguration.Smoke, RunConfiguration.ForProfile("smoke"));
        Assert.Throws<ArgumentException>(() => RunConfiguration.ForProfile("huge"));
    }

    [Fact]
    public void Json_round_trips()
    {
        var config = RunConfiguration.Smoke with { Seed = 99, Replicas = new() { ["generation"] = 2 } };

        var copy = RunConfiguration.FromJson(config.ToJson());

        Assert.Equal(config.ToJson(), copy.ToJson());
        Assert.Equal(2, copy.Replicas["generation"]);
    }

    [Fact]
    public void Json_overrides_only_what_it_states_on_top_of_its_profile()
    {
        var config = RunConfiguration.FromJson("""
            { "Profile": "smoke", "Ppo": { "Iterations": 5 }, "Replicas": { "critique": 3 } }
            """);

        Assert.Equal(5, config.Ppo.Iterations);
        Assert.Equal(RunConfiguration.Smoke.Ppo.PromptsPerIteration, config.Ppo.PromptsPerIteration);
        Assert.Equal(RunConfiguration.Smoke.SlCai, config.SlCai);
        Assert.Equal(3, config.Replicas["critique"]);
    }

    [Fact]
    public void Unknown_keys_are_refused_with_the_source_named()
    {
        var e = Assert.Throws<FormatException>(() => RunConfiguration.FromJson("""{ "Ppo": { "Iteration": 5 } }""", "run.json"));
        Assert.Contains("run.json", e.Message);
        Assert.Contains("Iteration", e.Message);
    }

    [Fact]
    public void Validate_names_each_bad_key()
    {
        var config = RunConfiguration.Default with
        {
            Ppo = new() { Iterations = 0 },
            Labels = new() { ClampLow = 0.7, ClampHigh = 0.3 },
            SlCai = new() { Rounds = -1 },
            Replicas = new() { ["gpu-farm"] = 2, ["ppo"] = 0 },
        };

        var errors = config.Validate();

        Assert.Contains("Ppo:Iterations must be > 0", errors);
        Assert.Contains("SlCai:Rounds must be >= 0", errors);
        Assert.Contains(errors, e => e.StartsWith("Labels:ClampLow", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Replicas:gpu-farm is not a service", StringComparison.Ordinal));
        Assert.Contains("Replicas:ppo must be >= 1", errors);
        Assert.Equal(5, errors.Count);
    }

    [Fact]
    public void Stage_seeds_differ_and_follow_the_run_seed()
    {
        var a = RunConfiguration.Default with { Seed = 1 };
        Assert.NotEqual(a.DeriveSeed("sl-cai"), a.DeriveSeed("labels"));
        Assert.Equal(a.DeriveSeed("ppo"), (RunConfiguration.Default with { Seed = 1 }).DeriveSeed("ppo"));
        Assert.NotEqual(a.DeriveSeed("ppo"), (a with { Seed = 2 }).DeriveSeed("ppo"));
    }
}
