using Cai.Inference;

namespace Cai.Services.Stages.Tests;

public sealed class MicroBatcherTests
{
    [Fact]
    public async Task ConcurrentSubmissionsAreGatheredIntoBatchesAndAnsweredInOrder()
    {
        var sizes = new List<int>();
        await using var batcher = new MicroBatcher<int, int>((items, _) =>
        {
            lock (sizes) sizes.Add(items.Count);
            return Task.FromResult<IReadOnlyList<int>>([.. items.Select(x => x * 10)]);
        }, maxBatch: 4, window: TimeSpan.FromSeconds(1));

        var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => batcher.SubmitAsync(i, CancellationToken.None)));
        Assert.Equal(Enumerable.Range(0, 10).Select(i => i * 10), results);
        Assert.Equal(10, sizes.Sum());
        Assert.Equal([4, 4, 2], sizes);
    }

    [Fact]
    public async Task AFailedBatchFailsEveryItemInIt()
    {
        await using var batcher = new MicroBatcher<int, int>((_, _) => throw new InvalidOperationException("model down"),
            maxBatch: 8, window: TimeSpan.FromMilliseconds(20));
        var calls = Enumerable.Range(0, 3).Select(i => batcher.SubmitAsync(i, CancellationToken.None)).ToList();
        foreach (var call in calls)
            Assert.Equal("model down", (await Assert.ThrowsAsync<InvalidOperationException>(() => call)).Message);
    }
}
