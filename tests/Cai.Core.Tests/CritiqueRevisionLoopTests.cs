using System.Text.Json;
using Cai.Core.Constitutions;
using Cai.Core.CritiqueRevision;
using Cai.Core.Data;
using Cai.Core.Dialogues;
using Cai.Core.Generation;

namespace Cai.Core.Tests;

public class CritiqueRevisionLoopTests
{
    /// <summary>A deterministic stand-in model: it answers by the kind of prompt and records every call.</summary>
    private sealed class ScriptedModel : ITextModel
    {
        public List<(IReadOnlyList<string> Prompts, GenerationSettings Settings)> Calls { get; } = [];

        public Func<string, string> Reply { get; init; } = prompt =>
            prompt.EndsWith("Critique:", StringComparison.Ordinal) ? $" critique#{prompt.Length}\n\nRevisionRequest: leaked"
            : prompt.EndsWith("Revision:", StringComparison.Ordinal) ? $" revision#{prompt.Length}"
            : $" answer#{prompt.Length}";

        public Task<IReadOnlyList<string>> CompleteAsync(
            IReadOnlyList<string> prompts, GenerationSettings settings, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Calls.Add((prompts.ToArray(), settings));
            return Task.FromResult<IReadOnlyList<string>>([.. prompts.Select(Reply)]);
        }
    }

    private static readonly Constitution Constitution = ConstitutionLoader.Load(TestData.Constitution("default.yaml"));

    private static List<PromptRecord> Prompts(int n) =>
        [.. Enumerable.Range(0, n).Select(i => new PromptRecord($"p{i}", Dialogue.FromHuman($"Question {i}?"), "harmful"))];

    [Fact]
    public async Task Each_round_critiques_then_revises_under_the_drawn_principle()
    {
        var model = new ScriptedModel();
        var loop = new CritiqueRevisionLoop(model, Constitution, new CritiqueRevisionOptions { Rounds = 3, FewShotExamples = 1, Seed = 7 });

        var traces = await loop.RunAsync(Prompts(5));

        // One answering call, then a critique and a revision call per round, each carrying the whole batch.
        Assert.Equal(1 + 2 * 3, model.Calls.Count);
        Assert.All(model.Calls, c => Assert.Equal(5, c.Prompts.Count));
        for (int i = 0; i < 5; i++)
        {
            var trace = traces[i];
            Assert.Equal($"p{i}", trace.PromptId);
            Assert.Equal(3, trace.Rounds.Count);
            var (principles, examples) = loop.Draw(trace.PromptId);
            Assert.Equal(principles.Select(p => p.Id), trace.Rounds.Select(r => r.PrincipleId));
            Assert.Equal(examples.Select(e => e.Id), trace.FewShotExampleIds);
            for (int r = 0; r < 3; r++)
            {
                var critiquePrompt = model.Calls[1 + 2 * r].Prompts[i];
                var revisionPrompt = model.Calls[2 + 2 * r].Prompts[i];
                Assert.Contains("CritiqueRequest: " + principles[r].CritiqueRequest + "\n\nCritique:", critiquePrompt);
                Assert.EndsWith("RevisionRequest: " + principles[r].RevisionRequest + "\n\nRevision:", revisionPrompt);
                // Each round works on the previous round's revision (or the initial answer).
                var previous = r == 0 ? trace.InitialResponse : trace.Rounds[r - 1].Revision;
                Assert.Contains("\n\nAssistant: " + previous + "\n\nCritiqueRequest:", critiquePrompt);
                // A critique is cut where the model overshot into the next section.
                Assert.StartsWith("critique#", trace.Rounds[r].Critique);
                Assert.DoesNotContain("leaked", trace.Rounds[r].Critique);
                Assert.Contains(" " + trace.Rounds[r].Critique + "\n\nRevisionRequest:", revisionPrompt);
            }

            Assert.Equal(trace.Rounds[^1].Revision, trace.FinalResponse);
        }

        Assert.Contains("\n\nHuman:", model.Calls[0].Settings.StopSequences);
        // Each step samples with its own seed derived from the run seed (the options gave none).
        Assert.All(model.Calls, c => Assert.NotNull(c.Settings.Seed));
        Assert.Equal(model.Calls.Count, model.Calls.Select(c => c.Settings.Seed).Distinct().Count());
        Assert.Contains("\n\nRevisionRequest:", model.Calls[1].Settings.StopSequences);
    }

    [Fact]
    public async Task Same_seed_gives_the_same_principles_whatever_the_batch_size_or_order()
    {
        var options = new CritiqueRevisionOptions { Rounds = 4, FewShotExamples = 2, Seed = 42 };
        var prompts = Prompts(40);

        var whole = await new CritiqueRevisionLoop(new ScriptedModel(), Constitution, options with { BatchSize = 64 }).RunAsync(prompts);
        var split = await new CritiqueRevisionLoop(new ScriptedModel(), Constitution, options with { BatchSize = 7 })
            .RunAsync([.. Enumerable.Reverse(prompts)]);
        var otherSeed = await new CritiqueRevisionLoop(new ScriptedModel(), Constitution, options with { Seed = 43 }).RunAsync(prompts);

        string Signature(CritiqueRevisionTrace t) =>
            t.PromptId + ":" + string.Join(",", t.Rounds.Select(r => r.PrincipleId)) + "|" + string.Join(",", t.FewShotExampleIds);
        Assert.Equal(whole.Select(Signature).Order(), split.Select(Signature).Order());
        Assert.NotEqual(whole.Select(Signature), otherSeed.Select(Signature));
        // Draws cover the constitution rather than sticking to one principle.
        Assert.True(whole.SelectMany(t => t.Rounds).Select(r => r.PrincipleId).Distinct().Count() >= 8);
    }

    [Fact]
    public async Task Direct_revision_skips_the_critique_step()
    {
        var model = new ScriptedModel();
        var loop = new CritiqueRevisionLoop(model, Constitution,
            new CritiqueRevisionOptions { Rounds = 2, FewShotExamples = 0, DirectRevision = true });

        var traces = await loop.RunAsync(Prompts(3));

        Assert.Equal(1 + 2, model.Calls.Count);
        Assert.All(model.Calls.SelectMany(c => c.Prompts), p => Assert.DoesNotContain("Critique", p));
        Assert.All(traces.SelectMany(t => t.Rounds), r => Assert.Null(r.Critique));
    }

    [Fact]
    public async Task Given_initial_responses_skip_the_answering_step()
    {
        var model = new ScriptedModel();
        var loop = new CritiqueRevisionLoop(model, Constitution, new CritiqueRevisionOptions { Rounds = 1, FewShotExamples = 0 });

        var traces = await loop.RunAsync(Prompts(2), ["first", "second"]);

        Assert.Equal(2, model.Calls.Count);
        Assert.Equal(["first", "second"], traces.Select(t => t.InitialResponse));
        Assert.Contains("\n\nAssistant: second\n\nCritiqueRequest:", model.Calls[0].Prompts[1]);
    }

    [Fact]
    public async Task Zero_rounds_keeps_the_initial_response()
    {
        var loop = new CritiqueRevisionLoop(new ScriptedModel(), Constitution, new CritiqueRevisionOptions { Rounds = 0 });
        var trace = Assert.Single(await loop.RunAsync(Prompts(1)));
        Assert.Empty(trace.Rounds);
        Assert.Equal(trace.InitialResponse, trace.FinalResponse);
    }

    [Fact]
    public async Task Cancellation_stops_the_loop()
    {
        using var cts = new CancellationTokenSource();
        var model = new ScriptedModel { Reply = _ => { cts.Cancel(); return "x"; } };
        var loop = new CritiqueRevisionLoop(model, Constitution, new CritiqueRevisionOptions { Rounds = 3, BatchSize = 2 });

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => loop.RunAsync(Prompts(6), cancellationToken: cts.Token));
        Assert.Single(model.Calls);
    }

    [Fact]
    public void Invalid_options_are_refused_naming_the_option()
    {
        var e = Assert.Throws<ArgumentException>(() => new CritiqueRevisionLoop(new ScriptedModel(), Constitution,
            new CritiqueRevisionOptions { Rounds = -1, FewShotExamples = 99, CritiqueSettings = new() { MaxNewTokens = 0 } }));
        Assert.Contains("Rounds", e.Message);
        Assert.Contains("FewShotExamples", e.Message);
        Assert.Contains("CritiqueSettings:MaxNewTokens", e.Message);
    }

    [Fact]
    public async Task Batches_are_yielded_as_they_finish_and_traces_serialise()
    {
        var model = new ScriptedModel();
        var loop = new CritiqueRevisionLoop(model, Constitution, new CritiqueRevisionOptions { Rounds = 1, BatchSize = 4 });

        var sizes = new List<int>();
        CritiqueRevisionTrace? last = null;
        await foreach (var batch in loop.RunBatchesAsync(Prompts(10)))
        {
            sizes.Add(batch.Count);
            last = batch[^1];
        }

        Assert.Equal([4, 4, 2], sizes);
        var copy = JsonSerializer.Deserialize<CritiqueRevisionTrace>(JsonSerializer.Serialize(last));
        Assert.Equal(last!.Prompt, copy!.Prompt);
        Assert.Equal(last.Rounds, copy.Rounds);
        Assert.Equal(last.FinalResponse, copy.FinalResponse);
    }

    [Fact]
    public async Task A_prompt_not_ending_with_a_human_turn_is_refused_before_any_model_call()
    {
        var model = new ScriptedModel();
        var loop = new CritiqueRevisionLoop(model, Constitution, new CritiqueRevisionOptions { BatchSize = 1 });
        var prompts = Prompts(3);
        prompts.Add(new PromptRecord("answered", Dialogue.FromHuman("q").WithAssistant("a"), null));

        var e = await Assert.ThrowsAsync<ArgumentException>(() => loop.RunAsync(prompts));

        Assert.Contains("answered", e.Message);
        Assert.Empty(model.Calls);
    }
}
