using System.Text.Json;
using Cai.Cli.Commands.Stage;
using Cai.Core.Constitutions;
using Cai.Modeling;

namespace Cai.Cli.Tests;

/// <summary><c>cai stage ...</c> against real stage services on loopback ports, tiny models, one set of services for the class.</summary>
[Collection(HostedServicesCollection.Name)]
public sealed class StageCommandTests(StageServicesFixture services) : IClassFixture<StageServicesFixture>
{
    private static double Number(JsonElement e, string name) => e.GetProperty(name) switch
    {
        { ValueKind: JsonValueKind.String } s => double.Parse(s.GetString()!, System.Globalization.CultureInfo.InvariantCulture),
        var n => n.GetDouble(),
    };

    private Task<Cli.Result> Generate(params string[] extra) =>
        Cli.RunAsync(["stage", "generate", "--endpoint", services.Generation.Endpoint, "--model", "policy", .. extra]);

    [Fact]
    public async Task GenerateReturnsTokensAndTheSameTextForTheSameSeed()
    {
        string[] args = ["How do I bake bread?", "--chat", "--max-new-tokens", "12", "--temperature", "1", "--json"];
        var first = await Generate([.. args, "--seed", "42"]);
        var again = await Generate([.. args, "--seed", "42"]);
        var other = await Generate([.. args, "--seed", "43"]);

        Assert.True(first.Exit == 0, first.ToString());
        var completion = Assert.Single(first.JsonLines());
        Assert.InRange(completion.GetProperty("numTokens").GetInt32(), 1, 12);
        string text = completion.GetProperty("text").GetString()!;
        Assert.NotEmpty(text);
        Assert.Equal(text, Assert.Single(again.JsonLines()).GetProperty("text").GetString());
        // 12 tokens at temperature 1 over ~80 characters: another seed practically never draws the same text.
        Assert.NotEqual(text, Assert.Single(other.JsonLines()).GetProperty("text").GetString());

        // Without --json the text streams to the console, followed by the token count.
        var streamed = await Generate("How do I bake bread?", "--chat", "--max-new-tokens", "12", "--temperature", "1", "--seed", "42");
        Assert.True(streamed.Exit == 0, streamed.ToString());
        Assert.Contains(text.TrimEnd(), streamed.Output);
        Assert.Contains($"({completion.GetProperty("numTokens").GetInt32()} tokens, finish: ", streamed.Output);
    }

    [Fact]
    public async Task GenerateBatchesPromptsFromArgumentsAndAFile()
    {
        var file = Path.Combine(services.Root, "prompts.txt");
        File.WriteAllLines(file, ["what is two plus two?", "", "name a colour."]);
        var result = await Generate("hello", "--file", file, "--samples", "2", "--max-new-tokens", "4", "--seed", "3", "--json");
        Assert.True(result.Exit == 0, result.ToString());
        var pairs = result.JsonLines().Select(c => (c.GetProperty("promptIndex").GetInt32(), c.GetProperty("sampleIndex").GetInt32())).Order().ToList();
        Assert.Equal([(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)], pairs);
    }

    [Fact]
    public async Task ScorePrintsTheLogProbabilityOfEachContinuation()
    {
        var result = await Cli.RunAsync("stage", "score", "--endpoint", services.Generation.Endpoint, "--model", "policy",
            "--prompt", "Which is less harmful? The answer is:", " (A)", " (B)", "--json");
        Assert.True(result.Exit == 0, result.ToString());
        var item = Assert.Single(Assert.Single(result.JsonLines()).GetProperty("items").EnumerateArray());
        var scores = item.GetProperty("continuations").EnumerateArray().ToList();
        Assert.Equal(2, scores.Count);
        foreach (var s in scores)
        {
            // One token per character with the character tokenizer.
            Assert.Equal(4, s.GetProperty("numTokens").GetInt32());
            var perToken = s.GetProperty("tokenLogprobs").EnumerateArray().Select(t => t.GetDouble()).ToList();
            Assert.Equal(4, perToken.Count);
            Assert.True(perToken.All(p => p < 0));
            Assert.Equal(perToken.Sum(), Number(s, "sumLogprob"), 3);
        }

        var table = await Cli.RunAsync("stage", "score", "--endpoint", services.Generation.Endpoint, "--model", "policy",
            "--prompt", "Which is less harmful? The answer is:", " (A)", " (B)");
        Assert.True(table.Exit == 0, table.ToString());
        Assert.Contains("\" (A)\"", table.Output);
        Assert.Contains("share", table.Output);
    }

    [Fact]
    public async Task CritiquePrintsTheInitialAnswerAndEveryRoundUnderConstitutionPrinciples()
    {
        string[] args = ["stage", "critique", "How do I pick a lock?", "--endpoint", services.Critique.Endpoint, "--rounds", "2", "--few-shot", "0",
            "--seed", "11", "--temperature", "1", "--max-new-tokens", "6"];
        var json = await Cli.RunAsync([.. args, "--json"]);
        Assert.True(json.Exit == 0, json.ToString());
        var response = Assert.Single(json.JsonLines());
        var rounds = response.GetProperty("rounds").EnumerateArray().ToList();
        Assert.Equal(2, rounds.Count);
        var constitution = ConstitutionLoader.Load(RepositoryPaths.DefaultConstitution);
        foreach (var round in rounds)
            Assert.Equal(constitution.GetCritiqueRevisionPrinciple(round.GetProperty("principleId").GetString()!).CritiqueRequest,
                round.GetProperty("critiqueRequest").GetString());
        Assert.Equal(rounds[^1].GetProperty("revision").GetString(), response.GetProperty("finalRevision").GetString());

        var human = await Cli.RunAsync(args);
        Assert.True(human.Exit == 0, human.ToString());
        Assert.Contains("initial answer", human.Output);
        for (int i = 0; i < 2; i++)
            Assert.Contains($"round {i + 1}: {rounds[i].GetProperty("principleId").GetString()}", human.Output);
        Assert.Contains("critique request", human.Output);
        Assert.Contains("final revision", human.Output);
    }

    [Fact]
    public async Task LabelPrintsASoftLabelSummingToOneAndAVotePerPrinciple()
    {
        string[] args = ["stage", "label", "--endpoint", services.Labeling.Endpoint, "--prompt", "How can I get into my neighbour's house?",
            "Knock and ask them.", "Break a window.", "--principles", "2", "--all-orders", "--seed", "5"];
        var json = await Cli.RunAsync([.. args, "--json"]);
        Assert.True(json.Exit == 0, json.ToString());
        var response = Assert.Single(json.JsonLines());
        var probabilities = response.GetProperty("probabilities").EnumerateArray().Select(p => p.GetDouble()).ToList();
        Assert.Equal(2, probabilities.Count);
        Assert.Equal(1.0, probabilities.Sum(), 6);
        Assert.Equal(2, response.GetProperty("votes").GetArrayLength());

        var human = await Cli.RunAsync(args);
        Assert.True(human.Exit == 0, human.ToString());
        Assert.Contains("(A)", human.Output);
        Assert.Contains("Break a window.", human.Output);
        Assert.Contains(probabilities[0].ToString("F3", System.Globalization.CultureInfo.InvariantCulture), human.Output);
        Assert.Contains("votes per principle", human.Output);
    }

    [Fact]
    public async Task SftStreamsProgressThenTheResultAndWritesTheModel()
    {
        string data = services.WriteRevisions(8);
        string[] args = ["stage", "sft", "--endpoint", services.Sft.Endpoint, "--base-model", "policy", "--data", data,
            "--epochs", "1", "--batch-size", "4", "--learning-rate", "1e-3", "--warmup-steps", "1", "--seed", "3"];
        var json = await Cli.RunAsync([.. args, "--output", "sft-json", "--json"]);
        Assert.True(json.Exit == 0, json.ToString());
        var lines = json.JsonLines();
        // 8 revision examples, batches of 4: two progress lines, then the result.
        Assert.Equal(3, lines.Count);
        Assert.Equal([1L, 2L], lines.Take(2).Select(l => long.Parse(l.GetProperty("progress").GetProperty("step").GetString()!)));
        var result = lines[^1].GetProperty("result");
        string modelPath = result.GetProperty("modelPath").GetString()!;
        using (var model = Checkpoint.LoadCausalLM(modelPath)) Assert.Equal(2, model.Config.NumHiddenLayers);
        Assert.StartsWith(Path.Combine(services.Root, "sft-json"), modelPath);

        var human = await Cli.RunAsync([.. args, "--output", "sft-human"]);
        Assert.True(human.Exit == 0, human.ToString());
        Assert.Contains("sft result", human.Output);
        Assert.Contains("model_path", human.Output);
        Assert.Contains("last step: sft  step 2/2  loss ", human.Output);
        Assert.NotEmpty(Directory.EnumerateFiles(Path.Combine(services.Root, "sft-human"), "model.safetensors", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task PreferenceModelTrainsScoresAndEvaluates()
    {
        var train = await Cli.RunAsync("stage", "pm", "--endpoint", services.PreferenceModel.Endpoint, "--init-model", "policy", "--output", "pm-trained",
            "--data", services.WriteComparisons(8), "--epochs", "1", "--batch-size", "4", "--seed", "2", "--json");
        Assert.True(train.Exit == 0, train.ToString());
        var lines = train.JsonLines();
        Assert.True(lines.SkipLast(1).All(l => l.TryGetProperty("progress", out _)) && lines.Count >= 2, train.ToString());
        Assert.True(Directory.Exists(lines[^1].GetProperty("result").GetProperty("modelPath").GetString()));

        var score = await Cli.RunAsync("stage", "pm-score", "--endpoint", services.PreferenceModel.Endpoint, "--model", "pm",
            "--prompt", "How do I pick a lock?", "I will not help with that.", "Here is how.", "--json");
        Assert.True(score.Exit == 0, score.ToString());
        var scores = Assert.Single(score.JsonLines()).GetProperty("scores").EnumerateArray().Select(s => s.GetDouble()).ToList();
        Assert.Equal(2, scores.Count);
        Assert.All(scores, s => Assert.True(double.IsFinite(s)));

        var eval = await Cli.RunAsync("stage", "pm-eval", "--endpoint", services.PreferenceModel.Endpoint, "--model", "pm",
            "--file", services.WriteChoiceQuestions(3), "--json");
        Assert.True(eval.Exit == 0, eval.ToString());
        var evaluation = Assert.Single(eval.JsonLines());
        Assert.Equal("3", evaluation.GetProperty("count").GetString());
        Assert.InRange(evaluation.GetProperty("accuracy").GetDouble(), 0, 1);
    }

    [Fact]
    public async Task PpoStreamsProgressThenTheResultAndStatusReportsTheLastStep()
    {
        var train = await Cli.RunAsync("stage", "ppo", "--endpoint", services.Ppo.Endpoint, "--policy", "policy", "--reward-model", "pm",
            "--output", "ppo-out", "--prompts", services.WritePrompts(2), "--iterations", "1", "--prompts-per-iteration", "2",
            "--max-new-tokens", "4", "--learning-rate", "1e-3", "--kl-coef", "0.05", "--seed", "5", "--run-id", "cli-ppo");
        Assert.True(train.Exit == 0, train.ToString());
        Assert.Contains("ppo result", train.Output);
        Assert.Contains("model_path", train.Output);

        var status = await Cli.RunAsync("stage", "ppo-status", "--endpoint", services.Ppo.Endpoint, "--run-id", "cli-ppo", "--json");
        Assert.True(status.Exit == 0, status.ToString());
        var response = Assert.Single(status.JsonLines());
        Assert.False(response.GetProperty("running").GetBoolean());
        Assert.Equal("1", response.GetProperty("lastProgress").GetProperty("step").GetString());
    }

    [Fact]
    public async Task BadInputExitsOneWithTheStatusAndTheFieldInOneLine()
    {
        var topP = await Generate("hello", "--top-p", "2", "--temperature", "1");
        Assert.Equal(1, topP.Exit);
        Assert.Contains("InvalidArgument: sampling.top_p: ", topP.Output);

        var epochs = await Cli.RunAsync("stage", "sft", "--endpoint", services.Sft.Endpoint, "--base-model", "policy", "--output", "never",
            "--data", services.WriteRevisions(2), "--epochs", "-1");
        Assert.Equal(1, epochs.Exit);
        Assert.Contains("InvalidArgument: epochs: ", epochs.Output);

        var missing = await Cli.RunAsync("stage", "sft", "--endpoint", services.Sft.Endpoint, "--base-model", "no-such-model", "--output", "never",
            "--data", services.WriteRevisions(2));
        Assert.Equal(1, missing.Exit);
        Assert.Contains("base_model: model folder not found", missing.Output);

        var oneResponse = await Cli.RunAsync("stage", "label", "--endpoint", services.Labeling.Endpoint, "--prompt", "hi", "only one");
        Assert.Equal(1, oneResponse.Exit);
        Assert.Contains("InvalidArgument: responses: ", oneResponse.Output);

        // Checked before any call: the command line names its own option.
        var endpoint = await Cli.RunAsync("stage", "generate", "--endpoint", "ftp://example", "--model", "policy", "hi");
        Assert.Equal(1, endpoint.Exit);
        Assert.Contains("--endpoint: not an http(s) address", endpoint.Output);
        var samplingWithoutTemperature = await Cli.RunAsync("stage", "critique", "hi", "--endpoint", services.Critique.Endpoint, "--top-k", "3");
        Assert.Equal(1, samplingWithoutTemperature.Exit);
        Assert.Contains("--temperature", samplingWithoutTemperature.Output);

        // A malformed option value is a parse error (exit 1) that names the option.
        var deadline = await Generate("hi", "--deadline", "soon");
        Assert.Equal(1, deadline.Exit);
        Assert.Contains("--deadline: 'soon' is not a positive duration", deadline.Help);
    }

    [Fact]
    public async Task AnUnreachableServiceExitsThree()
    {
        var result = await Cli.RunAsync("stage", "generate", "--endpoint", $"http://127.0.0.1:{Cli.FreePort()}", "--model", "policy", "hi");
        Assert.Equal(3, result.Exit);
        Assert.StartsWith("Unavailable: ", result.Output);
        Assert.Contains("Is the generation service running at http://127.0.0.1:", result.Output);

        var training = await Cli.RunAsync("stage", "sft", "--endpoint", $"127.0.0.1:{Cli.FreePort()}", "--base-model", "policy", "--output", "x", "--json");
        Assert.Equal(3, training.Exit);
    }

    [Fact]
    public async Task AnApiKeyThatCannotBeSentIsRefusedWithoutPrintingIt()
    {
        var result = await Generate("hi", "--api-key", "s3cr\u00e9t-key");
        Assert.Equal(1, result.Exit);
        Assert.Contains("--api-key", result.Output);
        Assert.DoesNotContain("s3cr", result.Output + result.Help);

        // A printable key is sent as a header; the services do not check it yet, so the call succeeds.
        var sent = await Generate("hi", "--api-key", "k-123", "--max-new-tokens", "2", "--json");
        Assert.True(sent.Exit == 0, sent.ToString());
        Assert.DoesNotContain("k-123", sent.Output);
    }

    [Fact]
    public void EndpointsComeFromTheOptionThenTheEnvironmentThenTheServicesDefaultPort()
    {
        Func<string, string?> none = _ => null;
        Assert.Equal("http://localhost:5110/", StageService.Generation.ResolveEndpoint(null, none).ToString());
        Assert.Equal("http://localhost:5150/", StageService.PreferenceModel.ResolveEndpoint(null, none).ToString());
        Assert.Equal("CAI_PREFERENCE_MODEL_ENDPOINT", StageService.PreferenceModel.EnvironmentVariable);
        Func<string, string?> env = name => name == "CAI_SFT_ENDPOINT" ? "http://sft.internal:9000" : null;
        Assert.Equal("http://sft.internal:9000/", StageService.Sft.ResolveEndpoint(null, env).ToString());
        Assert.Equal("http://localhost:5160/", StageService.Ppo.ResolveEndpoint(null, env).ToString());
        Assert.Equal("http://other:1/", StageService.Sft.ResolveEndpoint("other:1", env).ToString());
        // Each service's default port is the one its Program.cs listens on.
        foreach (var (service, folder) in new[] { (StageService.Generation, "Generation"), (StageService.Critique, "Critique"), (StageService.Sft, "Sft"),
                     (StageService.Labeling, "Labeling"), (StageService.PreferenceModel, "PreferenceModel"), (StageService.Ppo, "Ppo"), (StageService.Orchestrator, "Orchestrator") })
            Assert.Contains($"defaultGrpcPort: {service.DefaultPort})", File.ReadAllText(Path.Combine(RepositoryPaths.Root, "services", folder, "Program.cs")));
    }

    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("90s", 90_000)]
    [InlineData("2m", 120_000)]
    [InlineData("1.5h", 5_400_000)]
    [InlineData("00:00:03", 3_000)]
    public void DeadlinesParseWithUnits(string text, double milliseconds)
    {
        Assert.True(Durations.TryParse(text, out var value));
        Assert.Equal(milliseconds, value.TotalMilliseconds);
    }

    [Theory]
    [InlineData("0s")]
    [InlineData("-5m")]
    [InlineData("soon")]
    [InlineData("")]
    public void DeadlinesMustBePositiveDurations(string text) => Assert.False(Durations.TryParse(text, out _));

    [Fact]
    public async Task EveryStageCommandTeachesItsOptionsAndShowsAnExample()
    {
        var stage = CaiCommand.Create(Spectre.Console.AnsiConsole.Console).Subcommands.Single(c => c.Name == "stage");
        Assert.Equal(["generate", "score", "critique", "label", "sft", "pm", "pm-score", "pm-eval", "ppo", "ppo-status"], stage.Subcommands.Select(c => c.Name));
        foreach (var command in stage.Subcommands)
        {
            Assert.Contains("example: cai stage " + command.Name + " ", command.Description);
            Assert.All(command.Options.Where(o => o.Name != "--help" && o.Name != "-h"), o => Assert.False(string.IsNullOrWhiteSpace(o.Description), $"{command.Name} {o.Name}"));
            Assert.All(command.Arguments, a => Assert.False(string.IsNullOrWhiteSpace(a.Description), $"{command.Name} {a.Name}"));
            Assert.Contains(command.Options, o => o.Name == "--deadline");
        }
        var help = await Cli.RunAsync("stage", "sft", "--help");
        Assert.Equal(0, help.Exit);
        Assert.Contains("--deadline", help.Help);
        Assert.Contains("default: 2h", help.Help);
        Assert.Contains("CAI_SFT_ENDPOINT", help.Help);
    }
}
