namespace Cai.World;

/// <summary>A town of the world and its facts (the tables benign fact questions are checked against).</summary>
internal sealed record Town(string Name, string River, string Mayor, int Bridges, string MarketDay);

/// <summary>A river of the world.</summary>
internal sealed record River(string Name, int LengthKm);

/// <summary>The world's tables: people, towns and rivers, made up by seeded code so that no fact can
/// be known from outside the world.</summary>
internal sealed class WorldTables
{
    private static readonly string[] Onsets = ["b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z"];
    private static readonly string[] Vowels = ["a", "e", "i", "o", "u"];
    private static readonly string[] Codas = ["l", "n", "r", "s", "th", "v", "m", "d"];
    // Generated names that are English words would read as words ("Ask Him ..."), so they are skipped.
    private static readonly HashSet<string> EnglishWords = new(StringComparer.OrdinalIgnoreCase)
    {
        "bad", "bed", "bid", "bud", "dad", "did", "fed", "god", "had", "hid", "kid", "lad", "led", "lid", "mad", "mid",
        "mud", "nod", "pad", "pod", "red", "rid", "rod", "sad", "wed", "ban", "bin", "bun", "den", "fan", "fin", "fun",
        "gun", "hen", "him", "man", "men", "pan", "pen", "pin", "pun", "ran", "run", "sin", "son", "sun", "tan", "ten",
        "tin", "ton", "van", "bar", "far", "fir", "for", "fur", "her", "nor", "par", "per", "tar", "bus", "gas", "has",
        "his", "ham", "hem", "hum", "mom", "mum", "rum", "sum", "dam", "dim", "bath", "both", "math", "moth", "path",
        "pal", "sol", "nil", "kin", "gel", "gem", "mar", "pus", "sir", "tom", "vat", "zen", "dis", "sis",
        "human", "lemon", "salad", "melon", "medal", "metal", "model", "modem", "nomad", "panel", "petal", "radar",
        "robin", "tenor", "token", "venom", "vital", "lever", "liver", "river", "never", "sever", "fever", "rigor",
        "timid", "tumor", "humid", "rapid", "solid", "valid", "vapor", "pedal", "rival", "legal", "total", "mural",
    };

    internal static readonly string[] Weekdays = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

    public IReadOnlyList<string> FirstNames { get; }
    public IReadOnlyList<string> LastNames { get; }
    public IReadOnlyList<Town> Towns { get; }
    public IReadOnlyList<River> Rivers { get; }
    /// <summary>Every full name not reserved for a town mayor; harm-category owners and contacts are drawn
    /// from here without repetition.</summary>
    public Queue<string> UnusedPeople { get; }
    /// <summary>People who only ever appear as speakers.</summary>
    public IReadOnlyList<string> Speakers { get; }

    public WorldTables(Random random, int peopleNeeded)
    {
        var words = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        string NewWord(int syllables)
        {
            for (var attempt = 0; attempt < 10_000; attempt++)
            {
                var s = "";
                for (var i = 0; i < syllables; i++)
                    s += Onsets[random.Next(Onsets.Length)] + Vowels[random.Next(Vowels.Length)];
                s += Codas[random.Next(Codas.Length)];
                var word = char.ToUpperInvariant(s[0]) + s[1..];
                if (!EnglishWords.Contains(word) && words.Add(word)) return word;
            }
            throw new InvalidOperationException("The name generator ran out of distinct names.");
        }

        // A square of first x last names gives many distinct people from a small vocabulary.
        var side = Math.Max(24, (int)Math.Ceiling(Math.Sqrt(peopleNeeded * 1.5)));
        FirstNames = Enumerable.Range(0, side).Select(_ => NewWord(1)).ToList();
        LastNames = Enumerable.Range(0, side).Select(_ => NewWord(2)).ToList();
        Rivers = Enumerable.Range(0, 16).Select(_ => new River(NewWord(1), random.Next(12, 99))).ToList();

        var people = (from f in FirstNames from l in LastNames select $"{f} {l}").ToList();
        Shuffle(random, people);
        var queue = new Queue<string>(people);
        Towns = Enumerable.Range(0, 16).Select(i => new Town(
            NewWord(2),
            Rivers[i].Name,
            queue.Dequeue(),
            random.Next(2, 10),
            Weekdays[random.Next(Weekdays.Length)])).ToList();
        Speakers = Enumerable.Range(0, 40).Select(_ => queue.Dequeue()).ToList();
        UnusedPeople = queue;
    }

    internal static void Shuffle<T>(Random random, IList<T> list)
    {
        for (var i = list.Count - 1; i > 0; i--)
        {
            var j = random.Next(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }
    }
}

/// <summary>Small helpers for seeded choices.</summary>
internal static class RandomExtensions
{
    public static T Pick<T>(this Random random, IReadOnlyList<T> items) => items[random.Next(items.Count)];

    public static string Digits(this Random random, int count)
    {
        var chars = new char[count];
        for (var i = 0; i < count; i++) chars[i] = (char)('0' + random.Next(10));
        if (chars[0] == '0') chars[0] = (char)('1' + random.Next(9));
        return new string(chars);
    }
}
