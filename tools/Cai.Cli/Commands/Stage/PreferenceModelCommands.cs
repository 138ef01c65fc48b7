using System.CommandLine;
using System.Globalization;
using Cai.Core.Dialogues;
using Cai.Protos.V1;
using Spectre.Console;
using PmClient = Cai.Protos.V1.PreferenceModel.PreferenceModelClient;

namespace Cai.Cli.Commands.Stage;

/// <summary><c>cai stage pm-score</c> and <c>cai stage pm-eval</c>: a trained preference model's Score and Evaluate.</summary>
internal static class PreferenceModelCommands
{
    private static Option<string> Model() =>
        StageArgs.Text("--model", $"Trained preference model folder, {StageArgs.ServicePath}.", required: true, helpName: "folder");

    public static Command Score(IAnsiConsole console)
    {
        var common = new StageOptions(StageService.PreferenceModel, StageOptions.ShortDeadline);
        var responses = new Argument<string[]>("response") { Description = "Assistant responses to score after --prompt.", Arity = ArgumentArity.ZeroOrMore };
        var model = Model();
        var prompt = StageArgs.Text("--prompt", "The human message the responses answer.", helpName: "text");
        var dialogues = StageArgs.Many("--dialogue", "A whole dialogue to score (\"\\n\\nHuman: ...\\n\\nAssistant: ...\", ending with the assistant turn); repeatable.", "text");
        return common.Command("pm-score", StageArgs.Describe(
                "Score responses with a preference model (PPO's reward): higher is preferred.",
                "cai stage pm-score --model runs/r1/pm --prompt \"How do I pick a lock?\" \"I can't help with that.\" \"Sure, here is how.\""),
            console, [responses, model, prompt, dialogues],
            async (parse, context, ct) =>
            {
                string[] answers = parse.GetValue(responses) ?? [];
                string? human = parse.GetValue(prompt);
                if (answers.Length > 0 && string.IsNullOrWhiteSpace(human))
                    throw new ArgumentException("--prompt: needed with response arguments (or pass whole dialogues with --dialogue)");
                var request = new PmScoreRequest { Model = parse.GetValue(model)! };
                var labels = new List<string>();
                foreach (var answer in answers)
                {
                    request.Texts.Add(Dialogue.FromHuman(human!).WithAssistant(answer).Render());
                    labels.Add(answer);
                }
                foreach (var dialogue in parse.GetValue(dialogues) ?? [])
                {
                    request.Texts.Add(dialogue);
                    labels.Add(dialogue.Replace("\n", "\\n", StringComparison.Ordinal));
                }
                var response = await new PmClient(context.Channel).ScoreAsync(request, context.Call(ct));
                if (context.Json)
                {
                    StageOutput.WriteJson(context.Console, response);
                    return ExitCodes.Ok;
                }
                var table = new Table().AddColumn("#").AddColumn("response").AddColumn(new TableColumn("score").RightAligned());
                for (int i = 0; i < response.Scores.Count; i++)
                    table.AddRow((i + 1).ToString(CultureInfo.InvariantCulture), Markup.Escape(i < labels.Count ? labels[i] : ""),
                        response.Scores[i].ToString("F4", CultureInfo.InvariantCulture));
                context.Console.Write(table);
                return ExitCodes.Ok;
            });
    }

    public static Command Evaluate(IAnsiConsole console)
    {
        var common = new StageOptions(StageService.PreferenceModel, StageOptions.ShortDeadline);
        var model = Model();
        var file = StageArgs.Text("--file", "Two-choice file, as the service sees it: the paper's {\"prompt\",\"corrects\",\"incorrects\"} format or hh-rlhf chosen/rejected (.jsonl or .jsonl.gz).", required: true, helpName: "path");
        var limit = StageArgs.Int("--limit", "Evaluate at most N rows (default: the whole file).");
        var png = StageArgs.Text("--reliability-png", "Also draw the reliability diagram into this PNG, as the service sees the path.", helpName: "path");
        return common.Command("pm-eval", StageArgs.Describe(
                "Accuracy and calibration (expected calibration error) of a preference model on held-out two-choice comparisons.",
                "cai stage pm-eval --model runs/r1/pm --file /data/hh-rlhf/harmless-base-test.jsonl.gz --limit 500"),
            console, [model, file, limit, png],
            async (parse, context, ct) =>
            {
                var request = new PmEvaluateRequest
                {
                    Model = parse.GetValue(model)!,
                    File = parse.GetValue(file)!,
                    Limit = parse.GetValue(limit),
                    ReliabilityPng = parse.GetValue(png) ?? "",
                };
                var response = await new PmClient(context.Channel).EvaluateAsync(request, context.Call(ct));
                if (context.Json)
                {
                    StageOutput.WriteJson(context.Console, response);
                    return ExitCodes.Ok;
                }
                context.Console.Write(new Table().Title(Markup.Escape($"{request.Model} on {request.File}"))
                    .AddColumn(new TableColumn("pairs").RightAligned()).AddColumn(new TableColumn("accuracy").RightAligned())
                    .AddColumn(new TableColumn("calibration error (ECE)").RightAligned())
                    .AddRow(response.Count.ToString(CultureInfo.InvariantCulture),
                        response.Accuracy.ToString("P1", CultureInfo.InvariantCulture),
                        response.ExpectedCalibrationError.ToString("F3", CultureInfo.InvariantCulture)));
                if (request.ReliabilityPng.Length > 0) context.Console.MarkupLine($"reliability diagram: {Markup.Escape(request.ReliabilityPng)}");
                return ExitCodes.Ok;
            });
    }
}
