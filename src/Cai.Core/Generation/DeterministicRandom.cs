using System.Text;

namespace Cai.Core.Generation;

/// <summary>
/// A small, version-stable random generator (SplitMix64). Every random choice of the CAI algorithms (which
/// principle a round uses, which few-shot examples are shown) comes from one of these, seeded from the run seed
/// and the item id via <see cref="ForItem"/>, so a choice depends only on (seed, item) and never on batch order,
/// worker count or the .NET version.
/// </summary>
public sealed class DeterministicRandom
{
    private ulong state;

    /// <summary>Creates a generator from a 64-bit seed.</summary>
    public DeterministicRandom(ulong seed) => state = seed;

    /// <summary>A generator for one item of one stream: independent across items, streams and seeds.</summary>
    /// <param name="seed">The run seed.</param>
    /// <param name="stream">What the draws are for, e.g. "critique-revision" or "feedback".</param>
    /// <param name="itemId">The item id (prompt or comparison id).</param>
    public static DeterministicRandom ForItem(ulong seed, string stream, string itemId)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(itemId);
        // FNV-1a over "stream\0item", then mixed with the seed through the SplitMix64 finaliser.
        ulong hash = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes(stream + "\0" + itemId))
        {
            hash = (hash ^ b) * 1099511628211UL;
        }

        return new DeterministicRandom(Mix(hash ^ Mix(seed + 0x9E3779B97F4A7C15UL)));
    }

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        state += 0x9E3779B97F4A7C15UL;
        return Mix(state);
    }

    /// <summary>A uniform integer in [0, <paramref name="maxExclusive"/>).</summary>
    public int Next(int maxExclusive)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxExclusive);
        return (int)(((UInt128)NextUInt64() * (ulong)maxExclusive) >> 64);
    }

    /// <summary>A uniform double in [0, 1).</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary><paramref name="count"/> distinct indices from [0, <paramref name="n"/>), in draw order.</summary>
    public int[] SampleWithoutReplacement(int n, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, n);
        var pool = Enumerable.Range(0, n).ToArray();
        for (int i = 0; i < count; i++)
        {
            int j = i + Next(n - i);
            (pool[i], pool[j]) = (pool[j], pool[i]);
        }

        return pool[..count];
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
