using System.CommandLine;
using Cai.Protos.V1;
using Google.Protobuf;
using Grpc.Core;
using Spectre.Console;
using PmClient = Cai.Protos.V1.PreferenceModel.PreferenceModelClient;
using PpoClient = Cai.Protos.V1.Ppo.PpoClient;
using ProgressMessage = Cai.Protos.V1.Progress;
using SftClient = Cai.Protos.V1.Sft.SftClient;

namespace Cai.Cli.Commands.Stage;

/// <summary>
/// The training calls (<c>sft</c>, <c>pm</c>, <c>ppo</c>) and <c>ppo-status</c>. Each streams progress messages, then
/// one result: shown as a progress bar and a result table, or, with <c>--json</c>, as one JSON line per message.
/// </summary>
internal static class TrainingCommands
{
    private static Option<string> Output(string what) =>
        StageArgs.Text("--output", $"Folder that receives the checkpoints and the {what}, {StageArgs.ServicePath}; must be empty unless --resume.", required: true, helpName: "folder");

    private static Option<string> RunId() => StageArgs.Text("--run-id", "Run id (labels the job; without data files, the run whose Redis streams hold the data).", helpName: "id");

    private static Option<bool> Resume() => StageArgs.Flag("--resume", "Continue from the newest checkpoint in the output folder.");

    private static Option<double> LearningRate() => StageArgs.Double("--learning-rate", "Peak learning rate (default: the service's).", "lr");

    private static Option<int> Epochs() => StageArgs.Int("--epochs", "Passes over the data (default: the service's).");

    private static Option<int> BatchSize() => StageArgs.Int("--batch-size", "Examples per optimizer step (default: the service's).");

    private static Option<double> HelpfulRatio(string what) => StageArgs.Double("--helpful-ratio", $"Helpful {what} mixed in per harmlessness one (default: the service's).", "r");

    public static Command Sft(IAnsiConsole console)
    {
        var common = new StageOptions(StageService.Sft, StageOptions.LongDeadline);
        var baseModel = StageArgs.Text("--base-model", $"Model to fine-tune (Hugging Face layout), {StageArgs.ServicePath}.", required: true, helpName: "folder");
        var output = Output("fine-tuned model");
        var data = StageArgs.Many("--data", "JSONL files of revision records and helpful samples, as the service sees them (default: the run's Redis streams, see --run-id).", "file");
        var runId = RunId();
        var ratio = HelpfulRatio("samples");
        var epochs = Epochs();
        var lr = LearningRate();
        var batch = BatchSize();
        var warmup = StageArgs.Int("--warmup-steps", "Linear warm-up steps (default: the service's).");
        var checkpointEvery = StageArgs.Int("--checkpoint-every", "Write a checkpoint every N steps (default: the service's).");
        var bf16 = StageArgs.Flag("--bf16", "Train in bfloat16.");
        var seed = StageArgs.Seed("Seed of the data mix, shuffling and initialisation.");
        var resume = Resume();
        return common.Command("sft", StageArgs.Describe(
                "SL-CAI fine-tuning: train a model on (prompt, final revision) pairs mixed with helpful samples; shows a progress bar, then the result.",
                "cai stage sft --base-model models/default --data runs/r1/revisions.jsonl --output runs/r1/sft --epochs 1"),
            console, [baseModel, output, data, runId, ratio, epochs, lr, batch, warmup, checkpointEvery, bf16, seed, resume],
            (parse, context, ct) =>
            {
                var request = new SftTrainRequest
                {
                    RunId = parse.GetValue(runId) ?? "",
                    BaseModel = parse.GetValue(baseModel)!,
                    OutputDir = parse.GetValue(output)!,
                    HelpfulRatio = parse.GetValue(ratio),
                    Epochs = parse.GetValue(epochs),
                    LearningRate = parse.GetValue(lr),
                    BatchSize = parse.GetValue(batch),
                    WarmupSteps = parse.GetValue(warmup),
                    CheckpointEvery = parse.GetValue(checkpointEvery),
                    Bf16 = parse.GetValue(bf16),
                    Seed = parse.GetValue(seed),
                    Resume = parse.GetValue(resume),
                };
                request.DataFiles.Add(parse.GetValue(data) ?? []);
                var call = new SftClient(context.Channel).Train(request, context.Call(ct));
                return Follow(context, call, "sft", r => r.Progress, r => r.Result, ct);
            });
    }

    public static Command PreferenceModel(IAnsiConsole console)
    {
        var common = new StageOptions(StageService.PreferenceModel, StageOptions.LongDeadline);
        var initModel = StageArgs.Text("--init-model", $"Language model whose trunk the preference model starts from, {StageArgs.ServicePath}.", required: true, helpName: "folder");
        var output = Output("trained preference model");
        var data = StageArgs.Many("--data", "JSONL comparison files (soft-labelled AI comparisons, hh-rlhf chosen/rejected), as the service sees them.", "file", required: true);
        var runId = RunId();
        var ratio = HelpfulRatio("comparisons");
        var epochs = Epochs();
        var lr = LearningRate();
        var batch = BatchSize();
        var bf16 = StageArgs.Flag("--bf16", "Train in bfloat16 (a bf16 copy runs forward and backward; float32 master weights).");
        var seed = StageArgs.Seed("Seed of the data mix, shuffling and the head's initialisation.");
        var resume = Resume();
        return common.Command("pm", StageArgs.Describe(
                "Train the preference model on soft AI labels (Bradley-Terry) mixed with helpfulness comparisons; shows a progress bar, then the result.",
                "cai stage pm --init-model models/default --data runs/r1/comparisons.jsonl --output runs/r1/pm"),
            console, [initModel, output, data, runId, ratio, epochs, lr, batch, bf16, seed, resume],
            (parse, context, ct) =>
            {
                var request = new PmTrainRequest
                {
                    RunId = parse.GetValue(runId) ?? "",
                    InitModel = parse.GetValue(initModel)!,
                    OutputDir = parse.GetValue(output)!,
                    HelpfulRatio = parse.GetValue(ratio),
                    Epochs = parse.GetValue(epochs),
                    LearningRate = parse.GetValue(lr),
                    BatchSize = parse.GetValue(batch),
                    Bf16 = parse.GetValue(bf16),
                    Seed = parse.GetValue(seed),
                    Resume = parse.GetValue(resume),
                };
                request.DataFiles.Add(parse.GetValue(data) ?? []);
                var call = new PmClient(context.Channel).Train(request, context.Call(ct));
                return Follow(context, call, "preference-model", r => r.Progress, r => r.Result, ct);
            });
    }

    public static Command Ppo(IAnsiConsole console)
    {
        var common = new StageOptions(StageService.Ppo, StageOptions.LongDeadline);
        var policy = StageArgs.Text("--policy", $"The SL-CAI policy to optimise (and the KL reference), {StageArgs.ServicePath}.", required: true, helpName: "folder");
        var reward = StageArgs.Text("--reward-model", $"The trained preference model whose score is the reward, {StageArgs.ServicePath}.", required: true, helpName: "folder");
        var output = Output("RL-CAI policy");
        var prompts = StageArgs.Many("--prompts", "JSONL prompt files, as the service sees them (default: the run's prompt stream, see --run-id).", "file");
        var runId = RunId();
        var iterations = StageArgs.Int("--iterations", "PPO iterations (default: the service's).");
        var perIteration = StageArgs.Int("--prompts-per-iteration", "Prompts rolled out per iteration (default: the service's).");
        var maxNew = StageArgs.Int("--max-new-tokens", "Longest rollout response in tokens (default: the service's).");
        var lr = LearningRate();
        var klCoef = StageArgs.Double("--kl-coef", "KL penalty coefficient, the adaptive controller's start (default: the service's).", "c");
        var klTarget = StageArgs.Double("--kl-target", "Target KL of the adaptive controller (default: a fixed coefficient).", "kl");
        var seed = StageArgs.Seed("Seed of prompt order, sampling and initialisation.");
        var resume = Resume();
        return common.Command("ppo", StageArgs.Describe(
                "RL-CAI: optimise the policy with PPO against the preference model's score, with a KL penalty to the starting policy; shows a progress bar, then the result.",
                "cai stage ppo --policy runs/r1/sft --reward-model runs/r1/pm --prompts runs/r1/prompts.jsonl --output runs/r1/ppo --iterations 20"),
            console, [policy, reward, output, prompts, runId, iterations, perIteration, maxNew, lr, klCoef, klTarget, seed, resume],
            (parse, context, ct) =>
            {
                var request = new PpoTrainRequest
                {
                    RunId = parse.GetValue(runId) ?? "",
                    PolicyModel = parse.GetValue(policy)!,
                    RewardModel = parse.GetValue(reward)!,
                    OutputDir = parse.GetValue(output)!,
                    Iterations = parse.GetValue(iterations),
                    PromptsPerIteration = parse.GetValue(perIteration),
                    MaxNewTokens = parse.GetValue(maxNew),
                    LearningRate = parse.GetValue(lr),
                    KlCoef = parse.GetValue(klCoef),
                    KlTarget = parse.GetValue(klTarget),
                    Seed = parse.GetValue(seed),
                    Resume = parse.GetValue(resume),
                };
                request.PromptFiles.Add(parse.GetValue(prompts) ?? []);
                var call = new PpoClient(context.Channel).Train(request, context.Call(ct));
                return Follow(context, call, "ppo", r => r.Progress, r => r.Result, ct);
            });
    }

    public static Command PpoStatus(IAnsiConsole console)
    {
        var common = new StageOptions(StageService.Ppo, StageOptions.ShortDeadline);
        var runId = StageArgs.Text("--run-id", "Ask about this run (default: the replica's latest job).", helpName: "id");
        return common.Command("ppo-status", StageArgs.Describe(
                "Whether the ppo service is training, and its latest progress.",
                "cai stage ppo-status --run-id r1"),
            console, [runId],
            async (parse, context, ct) =>
            {
                var response = await new PpoClient(context.Channel).StatusAsync(new PpoStatusRequest { RunId = parse.GetValue(runId) ?? "" }, context.Call(ct));
                if (context.Json)
                {
                    StageOutput.WriteJson(context.Console, response);
                    return ExitCodes.Ok;
                }
                string run = response.RunId.Length > 0 ? response.RunId : "(none)";
                context.Console.MarkupLine($"run {Markup.Escape(run)}: {(response.Running ? "[green]running[/]" : "not running")}");
                if (response.LastProgress is { } last)
                {
                    context.Console.MarkupLine(Markup.Escape(StageOutput.Describe(last, "ppo")));
                    context.Console.Write(StageOutput.FieldTable(last, "last progress"));
                }
                return ExitCodes.Ok;
            });
    }

    /// <summary>
    /// Reads a training stream to its end: progress messages move a bar (or print as JSON lines), the result ends it.
    /// A stream that closes without a result is an error.
    /// </summary>
    private static async Task<int> Follow<TResponse>(StageContext context, AsyncServerStreamingCall<TResponse> call, string stage,
        Func<TResponse, ProgressMessage?> progressOf, Func<TResponse, IMessage?> resultOf, CancellationToken ct) where TResponse : IMessage
    {
        using (call)
        {
            IMessage? result = null;
            if (context.Json)
            {
                await foreach (var response in call.ResponseStream.ReadAllAsync(ct))
                {
                    StageOutput.WriteJson(context.Console, response);
                    result ??= resultOf(response);
                }
            }
            else
            {
                ProgressMessage? last = null;
                await context.Console.Progress().AutoClear(false).HideCompleted(false)
                    .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                    .StartAsync(async progress =>
                    {
                        var task = progress.AddTask(Markup.Escape($"{stage}  starting"), maxValue: 1);
                        task.IsIndeterminate = true;
                        await foreach (var response in call.ResponseStream.ReadAllAsync(ct))
                        {
                            if (progressOf(response) is { } p)
                            {
                                last = p;
                                if (p.TotalSteps > 0)
                                {
                                    task.IsIndeterminate = false;
                                    task.MaxValue = p.TotalSteps;
                                    task.Value = Math.Min(p.Step, p.TotalSteps);
                                }
                                task.Description = Markup.Escape(StageOutput.Describe(p, stage));
                            }
                            else if (resultOf(response) is { } r)
                            {
                                result = r;
                                task.IsIndeterminate = false;
                                task.Value = task.MaxValue;
                                task.StopTask();
                            }
                        }
                    });
                if (last is not null) context.Console.MarkupLine($"[grey]last step: {Markup.Escape(StageOutput.Describe(last, stage))}[/]");
                if (result is not null) context.Console.Write(StageOutput.FieldTable(result, $"{stage} result"));
            }
            if (result is null) throw new InvalidDataException($"The {context.Service.Name} service closed the stream without a result.");
            return ExitCodes.Ok;
        }
    }
}
