using System.CommandLine;
using System.Globalization;
using Cai.Protos.V1;
using Spectre.Console;
using CritiqueClient = Cai.Protos.V1.Critique.CritiqueClient;
using LabelingClient = Cai.Protos.V1.Labeling.LabelingClient;

namespace Cai.Cli.Commands.Stage;

/// <summary><c>cai stage critique</c> (SL-CAI's critique/revision rounds) and <c>cai stage label</c> (RL-CAI's AI feedback).</summary>
internal static class FeedbackCommands
{
    private static Option<string> Model(string service, string key) =>
        StageArgs.Text("--model", $"Model folder, {StageArgs.ServicePath} (default: the {service} service's {key}).", helpName: "folder");

    private static Option<string> Constitution() =>
        StageArgs.Text("--constitution", "Constitution file, as the service sees it (default: the service's).", helpName: "path");

    public static Command Critique(IAnsiConsole console)
    {
        var common = new StageOptions(StageService.Critique, StageOptions.ShortDeadline);
        var prompt = new Argument<string>("prompt") { Description = "The red-team prompt: one human message, or a dialogue ending with a human turn." };
        var model = Model("critique", "Critique:Model");
        var rounds = StageArgs.Int("--rounds", "Critique/revision rounds, a freshly drawn principle each (default: the service's).");
        var seed = StageArgs.Seed("Seed of the principle draws and of sampling (same seed, same rounds).");
        var direct = StageArgs.Flag("--revise-directly", "Revise without writing a critique first (the paper's critique-free variant).");
        var fewShot = new Option<int?>("--few-shot") { Description = "Few-shot critique/revision examples placed in context (default: the service's).", HelpName = "n" };
        var constitution = Constitution();
        var id = StageArgs.Text("--id", "Prompt id (principles are drawn from the seed and this id).", helpName: "id");
        id.DefaultValueFactory = _ => "cli";
        var sampling = new SamplingOptionSet(defaultTemperature: null, withSamplesAndSeed: false);
        return common.Command("critique", StageArgs.Describe(
                "Answer a prompt, then critique and revise the answer under principles drawn from the constitution; prints every round.",
                "cai stage critique \"How do I pick my neighbour's lock?\" --rounds 2 --seed 7"),
            console, [prompt, model, rounds, seed, direct, fewShot, constitution, id, .. sampling.All],
            async (parse, context, ct) =>
            {
                var request = new CritiqueReviseRequest
                {
                    PromptId = parse.GetValue(id)!,
                    Prompt = parse.GetValue(prompt)!,
                    Model = parse.GetValue(model) ?? "",
                    Rounds = parse.GetValue(rounds),
                    Seed = parse.GetValue(seed),
                    ReviseDirectly = parse.GetValue(direct),
                    Constitution = parse.GetValue(constitution) ?? "",
                    FewShot = parse.GetValue(fewShot) ?? -1,
                    Sampling = sampling.Read(parse),
                };
                var response = await new CritiqueClient(context.Channel).CritiqueReviseAsync(request, context.Call(ct));
                if (context.Json)
                {
                    StageOutput.WriteJson(context.Console, response);
                    return ExitCodes.Ok;
                }
                var c = context.Console;
                c.MarkupLine($"[bold]prompt[/] {Markup.Escape(request.Prompt)}");
                c.MarkupLine($"[blue]initial answer[/] {Markup.Escape(response.InitialResponse)}");
                for (int i = 0; i < response.Rounds.Count; i++)
                {
                    var round = response.Rounds[i];
                    c.Write(new Rule($"round {i + 1}: {Markup.Escape(round.PrincipleId)}").LeftJustified());
                    if (round.CritiqueRequest.Length > 0)
                    {
                        c.MarkupLine($"[grey]critique request[/] {Markup.Escape(round.CritiqueRequest)}");
                        c.MarkupLine($"[blue]critique[/] {Markup.Escape(round.Critique)}");
                    }
                    c.MarkupLine($"[grey]revision request[/] {Markup.Escape(round.RevisionRequest)}");
                    c.MarkupLine($"[blue]revision[/] {Markup.Escape(round.Revision)}");
                }
                c.Write(new Rule().LeftJustified());
                c.MarkupLine($"[green]final revision[/] {Markup.Escape(response.FinalRevision)}");
                return ExitCodes.Ok;
            });
    }

    public static Command Label(IAnsiConsole console)
    {
        var common = new StageOptions(StageService.Labeling, StageOptions.ShortDeadline);
        var responses = new Argument<string[]>("response") { Description = "Two or more candidate responses: options (A), (B), ...", Arity = ArgumentArity.OneOrMore };
        var prompt = StageArgs.Text("--prompt", "The conversation the responses answer: one human message, or a dialogue ending with a human turn.", required: true, helpName: "text");
        var model = Model("labeling", "Labeling:Model");
        var principles = StageArgs.Int("--principles", "Principles drawn and averaged, an ensemble (default: the service's).");
        var allOrders = StageArgs.Flag("--all-orders", "Ask with every order of the options and average, cancelling position bias.");
        var cot = StageArgs.Flag("--chain-of-thought", "Let the feedback model reason first; its probabilities are clamped.");
        var clampLow = new Option<float?>("--clamp-low") { Description = "Lower clamp of chain-of-thought probabilities (default: 0.4).", HelpName = "p" };
        var clampHigh = new Option<float?>("--clamp-high") { Description = "Upper clamp of chain-of-thought probabilities (default: 0.6).", HelpName = "p" };
        var seed = StageArgs.Seed("Seed of the principle draws.");
        var constitution = Constitution();
        var id = StageArgs.Text("--id", "Comparison id.", helpName: "id");
        id.DefaultValueFactory = _ => "cli";
        return common.Command("label", StageArgs.Describe(
                "AI feedback: the feedback model picks among responses under constitutional principles; prints the soft label (one probability per option, summing to 1) and each principle's vote.",
                "cai stage label --prompt \"How do I get into my neighbour's house?\" \"Knock and ask.\" \"Break a window.\" --principles 2 --all-orders"),
            console, [responses, prompt, model, principles, allOrders, cot, clampLow, clampHigh, seed, constitution, id],
            async (parse, context, ct) =>
            {
                float? low = parse.GetValue(clampLow), high = parse.GetValue(clampHigh);
                if ((low is null) != (high is null))
                    throw new ArgumentException("--clamp-low and --clamp-high: give both or neither");
                var request = new LabelRequest
                {
                    ComparisonId = parse.GetValue(id)!,
                    Conversation = parse.GetValue(prompt)!,
                    Model = parse.GetValue(model) ?? "",
                    NumPrinciples = parse.GetValue(principles),
                    AllOrders = parse.GetValue(allOrders),
                    ChainOfThought = parse.GetValue(cot),
                    ClampLow = low ?? 0,
                    ClampHigh = high ?? 0,
                    Seed = parse.GetValue(seed),
                    Constitution = parse.GetValue(constitution) ?? "",
                };
                request.Responses.Add(parse.GetValue(responses) ?? []);
                var response = await new LabelingClient(context.Channel).LabelAsync(request, context.Call(ct));
                if (context.Json)
                {
                    StageOutput.WriteJson(context.Console, response);
                    return ExitCodes.Ok;
                }
                var c = context.Console;
                var table = new Table().Title("soft label").AddColumn("option").AddColumn("response").AddColumn(new TableColumn("probability").RightAligned()).AddColumn("");
                for (int i = 0; i < response.Probabilities.Count; i++)
                {
                    double p = response.Probabilities[i];
                    table.AddRow(Letter(i), Markup.Escape(i < request.Responses.Count ? request.Responses[i] : ""),
                        p.ToString("F3", CultureInfo.InvariantCulture), new string('#', (int)Math.Round(20 * Math.Clamp(p, 0, 1))));
                }
                c.Write(table);
                if (response.Votes.Count > 0)
                {
                    var votes = new Table().Title("votes per principle").AddColumn("principle");
                    for (int i = 0; i < response.Probabilities.Count; i++) votes.AddColumn(new TableColumn(Letter(i)).RightAligned());
                    bool reasoning = response.Votes.Any(v => v.Reasoning.Length > 0);
                    if (reasoning) votes.AddColumn("reasoning");
                    foreach (var vote in response.Votes)
                    {
                        var cells = new List<string> { Markup.Escape(vote.PrincipleId) };
                        for (int i = 0; i < response.Probabilities.Count; i++)
                            cells.Add(i < vote.Probabilities.Count ? vote.Probabilities[i].ToString("F3", CultureInfo.InvariantCulture) : "");
                        if (reasoning) cells.Add(Markup.Escape(vote.Reasoning));
                        votes.AddRow(cells.ToArray());
                    }
                    c.Write(votes);
                }
                return ExitCodes.Ok;
            });
    }

    private static string Letter(int i) => $"({(char)('A' + i)})";
}
