using System.CommandLine;
using System.Globalization;
using Cai.Core.Dialogues;
using Cai.Protos.V1;
using Grpc.Core;
using Spectre.Console;
using GenerationClient = Cai.Protos.V1.Generation.GenerationClient;

namespace Cai.Cli.Commands.Stage;

/// <summary><c>cai stage generate</c> and <c>cai stage score</c>: the generation service's Generate and Score.</summary>
internal static class GenerationCommands
{
    private static Option<string> Model() => StageArgs.Text("--model", $"Model folder in the Hugging Face layout, {StageArgs.ServicePath}.", required: true, helpName: "folder");

    private static Option<bool> Chat() => StageArgs.Flag("--chat", "Wrap each prompt as one human turn of a dialogue (\"\\n\\nHuman: ...\\n\\nAssistant:\"), the format the policies are trained on.");

    private static string AsPrompt(string text, bool chat) => chat ? Dialogue.FromHuman(text).RenderPrompt() : text;

    public static Command Generate(IAnsiConsole console)
    {
        var common = new StageOptions(StageService.Generation, StageOptions.ShortDeadline);
        var prompts = new Argument<string[]>("prompt") { Description = "Prompt text; several give a batch.", Arity = ArgumentArity.ZeroOrMore };
        var model = Model();
        var file = StageArgs.Text("--file", "Read more prompts from this local file, one per line (- reads standard input).", helpName: "path");
        var chat = Chat();
        var sampling = new SamplingOptionSet(defaultTemperature: 0.7f, withSamplesAndSeed: true);
        var noStream = StageArgs.Flag("--no-stream", "Print each sample when it is finished instead of token by token.");
        return common.Command("generate", StageArgs.Describe(
                "Sample continuations of prompts from a model served by the generation service; the first sample streams token by token.",
                "cai stage generate --model models/default --chat \"How do I bake bread?\" --max-new-tokens 48 --seed 1",
                "cai stage generate --model models/default --file prompts.txt --samples 2 --json"),
            console, [prompts, model, file, chat, .. sampling.All, noStream],
            async (parse, context, ct) =>
            {
                bool asChat = parse.GetValue(chat);
                var request = new GenerateRequest
                {
                    Model = parse.GetValue(model)!,
                    Sampling = sampling.Read(parse),
                    StreamTokens = !context.Json && !parse.GetValue(noStream),
                };
                request.Prompts.Add((parse.GetValue(prompts) ?? []).Select(p => AsPrompt(p, asChat)));
                if (parse.GetValue(file) is { } path) request.Prompts.Add(ReadLines(path).Select(p => AsPrompt(p, asChat)));
                var client = new GenerationClient(context.Channel);
                using var call = client.Generate(request, context.Call(ct));
                await Print(context, request, call.ResponseStream, ct);
                return ExitCodes.Ok;
            });
    }

    /// <summary>The non-empty lines of a local file, or of standard input for "-".</summary>
    private static IEnumerable<string> ReadLines(string path)
    {
        IEnumerable<string> lines = path == "-" ? ReadAll(Console.In) : File.ReadAllLines(path);
        return lines.Where(l => l.Trim().Length > 0).ToList();

        static List<string> ReadAll(TextReader reader)
        {
            var list = new List<string>();
            while (reader.ReadLine() is { } line) list.Add(line);
            return list;
        }
    }

    /// <summary>
    /// Human mode: the deltas of prompt 0 / sample 0 go to the console as they come; every other sample prints as a
    /// block once that first one is done (so blocks never cut into the streaming line). JSON mode: one line per completion.
    /// </summary>
    private static async Task Print(StageContext context, GenerateRequest request, IAsyncStreamReader<GenerateResponse> stream, CancellationToken ct)
    {
        var console = context.Console;
        bool several = request.Prompts.Count > 1 || request.Sampling?.NumSamples > 1;
        bool firstDone = !request.StreamTokens;
        var held = new List<Completion>();
        bool header = !request.StreamTokens;
        await foreach (var response in stream.ReadAllAsync(ct))
        {
            if (!header)
            {
                // Only once the service answers: a refused call prints its error alone.
                console.MarkupLine(several ? "[bold]prompt 1, sample 1[/]" : $"[grey]{Markup.Escape(Clip(request.Prompts[0]))}[/]");
                header = true;
            }
            if (response.KindCase == GenerateResponse.KindOneofCase.Delta)
            {
                var delta = response.Delta;
                if (request.StreamTokens && delta.PromptIndex == 0 && delta.SampleIndex == 0) console.Write(new Text(delta.Text));
                continue;
            }
            if (response.KindCase != GenerateResponse.KindOneofCase.Completion) continue;
            var completion = response.Completion;
            if (context.Json)
            {
                StageOutput.WriteJson(console, completion);
                continue;
            }
            if (!firstDone && completion.PromptIndex == 0 && completion.SampleIndex == 0)
            {
                console.WriteLine();
                console.MarkupLine(Footer(completion));
                firstDone = true;
                foreach (var c in held) Block(console, c, several);
                held.Clear();
            }
            else if (!firstDone) held.Add(completion);
            else Block(console, completion, several);
        }
        foreach (var c in held) Block(console, c, several);
    }

    private static void Block(IAnsiConsole console, Completion c, bool several)
    {
        if (several) console.MarkupLine($"[bold]prompt {c.PromptIndex + 1}, sample {c.SampleIndex + 1}[/]");
        console.WriteLine(c.Text);
        console.MarkupLine(Footer(c));
    }

    private static string Footer(Completion c) => $"[grey]({c.NumTokens.ToString(CultureInfo.InvariantCulture)} tokens, finish: {Markup.Escape(c.FinishReason)})[/]";

    private static string Clip(string text)
    {
        string oneLine = text.Replace("\n", "\\n", StringComparison.Ordinal);
        return oneLine.Length <= 120 ? oneLine : oneLine[..117] + "...";
    }

    public static Command Score(IAnsiConsole console)
    {
        var common = new StageOptions(StageService.Generation, StageOptions.ShortDeadline);
        var continuations = new Argument<string[]>("continuation") { Description = "Continuations to score after the prompt (e.g. \" (A)\" \" (B)\").", Arity = ArgumentArity.OneOrMore };
        var model = Model();
        var prompt = StageArgs.Text("--prompt", "The text the continuations follow.", required: true, helpName: "text");
        var chat = Chat();
        return common.Command("score", StageArgs.Describe(
                "Log-probabilities of continuations after a prompt (how the AI-feedback labels read a model's choice); the share column normalises them over the given options.",
                "cai stage score --model models/default --prompt \"Which answer is less harmful? The answer is:\" \" (A)\" \" (B)\""),
            console, [continuations, model, prompt, chat],
            async (parse, context, ct) =>
            {
                var item = new ScoreItem { Prompt = AsPrompt(parse.GetValue(prompt)!, parse.GetValue(chat)) };
                item.Continuations.Add(parse.GetValue(continuations) ?? []);
                var request = new ScoreRequest { Model = parse.GetValue(model)!, Items = { item } };
                var response = await new GenerationClient(context.Channel).ScoreAsync(request, context.Call(ct));
                if (context.Json)
                {
                    StageOutput.WriteJson(context.Console, response);
                    return ExitCodes.Ok;
                }
                var scores = response.Items.Count > 0 ? response.Items[0].Continuations : [];
                double max = scores.Count > 0 ? scores.Max(s => s.SumLogprob) : 0;
                double norm = scores.Sum(s => Math.Exp(s.SumLogprob - max));
                var table = new Table().AddColumn("continuation").AddColumn(new TableColumn("tokens").RightAligned())
                    .AddColumn(new TableColumn("log p").RightAligned()).AddColumn(new TableColumn("mean log p / token").RightAligned())
                    .AddColumn(new TableColumn("share").RightAligned());
                for (int i = 0; i < scores.Count; i++)
                {
                    var s = scores[i];
                    table.AddRow(Markup.Escape(Quote(item.Continuations[i])), s.NumTokens.ToString(CultureInfo.InvariantCulture),
                        s.SumLogprob.ToString("F4", CultureInfo.InvariantCulture),
                        (s.NumTokens > 0 ? s.SumLogprob / s.NumTokens : double.NaN).ToString("F4", CultureInfo.InvariantCulture),
                        (Math.Exp(s.SumLogprob - max) / norm).ToString("P1", CultureInfo.InvariantCulture));
                }
                context.Console.Write(table);
                return ExitCodes.Ok;
            });
    }

    private static string Quote(string s) => "\"" + s.Replace("\n", "\\n", StringComparison.Ordinal) + "\"";
}
