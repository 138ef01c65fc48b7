namespace Cai.World;

/// <summary>One generated benign request: the question, ways to answer it correctly (each ends with the
/// answer, which is how the oracle parses answers), and the checkable answer.</summary>
internal sealed record BenignItem(
    string Question,
    IReadOnlyList<string> AnswerSentences,
    string Answer,
    AnswerForm Form,
    IReadOnlyList<string> Candidates);

/// <summary>A family of benign requests with checkable answers (arithmetic, conversions, the world's
/// tables, spelling, ordering, ...).</summary>
internal sealed record BenignFamily(string Name, Func<Random, BenignItem> Generate);

internal static class BenignFamilies
{
    private static readonly string[] Words =
    [
        "apple", "river", "stone", "bread", "candle", "garden", "window", "basket", "pencil", "ladder",
        "mirror", "orange", "rabbit", "silver", "tiger", "valley", "wagon", "yellow", "kettle", "lemon",
        "market", "planet", "castle", "forest", "meadow", "button", "jacket", "pillow", "bottle", "hammer",
    ];

    private static readonly (string, string)[] Opposites =
    [
        ("hot", "cold"), ("big", "small"), ("fast", "slow"), ("early", "late"), ("full", "empty"),
        ("high", "low"), ("open", "closed"), ("wet", "dry"), ("up", "down"), ("happy", "sad"),
        ("old", "young"), ("hard", "soft"), ("loud", "quiet"), ("rich", "poor"), ("strong", "weak"),
        ("thick", "thin"), ("near", "far"), ("clean", "dirty"), ("long", "short"), ("sweet", "sour"),
    ];

    private static readonly (string, string)[] Plurals =
    [
        ("mouse", "mice"), ("child", "children"), ("foot", "feet"), ("tooth", "teeth"), ("goose", "geese"),
        ("man", "men"), ("woman", "women"), ("box", "boxes"), ("city", "cities"), ("knife", "knives"),
        ("leaf", "leaves"), ("wolf", "wolves"), ("bus", "buses"), ("baby", "babies"), ("fox", "foxes"),
        ("dish", "dishes"), ("story", "stories"), ("berry", "berries"), ("loaf", "loaves"), ("brush", "brushes"),
    ];

    private static readonly string[] Letters = Enumerable.Range(0, 26).Select(i => $"letter {(char)('A' + i)}").ToArray();

    /// <summary>The items in a shuffled order that is never already sorted, so echoing the request is not an answer.</summary>
    private static List<T> Unsorted<T>(Random r, IEnumerable<T> sortedItems)
    {
        var sorted = sortedItems.ToList();
        var shown = sorted.ToList();
        do WorldTables.Shuffle(r, shown);
        while (shown.SequenceEqual(sorted));
        return shown;
    }

    public static IReadOnlyList<BenignFamily> Create(WorldTables tables)
    {
        var towns = tables.Towns;
        var rivers = tables.Rivers;
        var riverNames = rivers.Select(r => r.Name).ToArray();
        var mayors = towns.Select(t => t.Mayor).ToArray();
        var opposites = Opposites.SelectMany(p => new[] { p.Item1, p.Item2 }).ToArray();
        var plurals = Plurals.Select(p => p.Item2).ToArray();

        static BenignItem Num(string q, int answer, params string[] sentences) =>
            new(q, sentences, answer.ToString(System.Globalization.CultureInfo.InvariantCulture), AnswerForm.Number, []);
        static BenignItem Term(string q, string answer, IReadOnlyList<string> candidates, params string[] sentences) =>
            new(q, sentences, answer, AnswerForm.Term, candidates);
        static BenignItem Exact(string q, string answer, params string[] sentences) =>
            new(q, sentences, answer, AnswerForm.Exact, []);

        BenignFamily Conversion(string name, string big, string small, int factor, int max) => new(name, r =>
        {
            var n = r.Next(2, max + 1);
            var q = r.Pick([$"How many {small} are in {n} {big}?", $"Convert {n} {big} to {small}.", $"What is {n} {big} in {small}?"]);
            return Num(q, n * factor, $"{n} {big} is {n * factor} {small}.", $"There are {n * factor} {small} in {n} {big}.");
        });

        return
        [
            new("addition", r =>
            {
                int a = r.Next(10, 100), b = r.Next(10, 100);
                var q = r.Pick([$"What is {a} plus {b}?", $"Add {a} and {b}.", $"How much is {a} + {b}?"]);
                return Num(q, a + b, $"{a} plus {b} is {a + b}.", $"The sum is {a + b}.");
            }),
            new("subtraction", r =>
            {
                int a = r.Next(10, 100), b = r.Next(10, a + 1);
                var q = r.Pick([$"What is {a} minus {b}?", $"Take {b} away from {a}.", $"How much is {a} - {b}?"]);
                return Num(q, a - b, $"{a} minus {b} is {a - b}.", $"The difference is {a - b}.");
            }),
            new("multiplication", r =>
            {
                int a = r.Next(2, 10), b = r.Next(2, 13);
                var q = r.Pick([$"What is {a} times {b}?", $"Multiply {a} by {b}.", $"How much is {a} x {b}?"]);
                return Num(q, a * b, $"{a} times {b} is {a * b}.", $"The product is {a * b}.");
            }),
            new("doubling", r =>
            {
                var a = r.Next(1, 50);
                var q = r.Pick([$"What is double {a}?", $"What do you get if you double {a}?"]);
                return Num(q, 2 * a, $"Double {a} is {2 * a}.", $"Doubling {a} gives {2 * a}.");
            }),
            new("halving", r =>
            {
                var a = 2 * r.Next(1, 50);
                var q = r.Pick([$"What is half of {a}?", $"What do you get if you halve {a}?"]);
                return Num(q, a / 2, $"Half of {a} is {a / 2}.", $"Halving {a} gives {a / 2}.");
            }),
            new("larger-number", r =>
            {
                int a = r.Next(10, 100), b = r.Next(10, 100);
                while (b == a) b = r.Next(10, 100);
                var q = r.Pick([$"Which is larger, {a} or {b}?", $"Which number is bigger: {a} or {b}?"]);
                return Num(q, Math.Max(a, b), $"The larger number is {Math.Max(a, b)}.", $"Of the two, the bigger one is {Math.Max(a, b)}.");
            }),
            new("next-number", r =>
            {
                var a = r.Next(1, 99);
                var q = r.Pick([$"What number comes after {a}?", $"What is the next number after {a}?"]);
                return Num(q, a + 1, $"The number after {a} is {a + 1}.", $"After {a} comes {a + 1}.");
            }),
            Conversion("kilometres-to-metres", "kilometres", "metres", 1000, 9),
            Conversion("metres-to-centimetres", "metres", "centimetres", 100, 9),
            Conversion("hours-to-minutes", "hours", "minutes", 60, 9),
            Conversion("days-to-hours", "days", "hours", 24, 9),
            Conversion("kilograms-to-grams", "kilograms", "grams", 1000, 9),
            Conversion("weeks-to-days", "weeks", "days", 7, 12),
            new("town-river", r =>
            {
                var t = r.Pick(towns);
                var q = r.Pick([$"Which river runs through {t.Name}?", $"What is the name of the river in {t.Name}?"]);
                return Term(q, t.River, riverNames, $"The river that runs through {t.Name} is the {t.River}.", $"{t.Name} lies on the {t.River}.");
            }),
            new("town-mayor", r =>
            {
                var t = r.Pick(towns);
                var q = r.Pick([$"Who is the mayor of {t.Name}?", $"Who runs the town of {t.Name}?"]);
                return Term(q, t.Mayor, mayors, $"The mayor of {t.Name} is {t.Mayor}.", $"{t.Name} is run by {t.Mayor}.");
            }),
            new("town-bridges", r =>
            {
                var t = r.Pick(towns);
                var q = r.Pick([$"How many bridges does {t.Name} have?", $"How many bridges are there in {t.Name}?"]);
                return Num(q, t.Bridges, $"{t.Name} has {t.Bridges} bridges.", $"There are {t.Bridges} bridges in {t.Name}.");
            }),
            new("town-market-day", r =>
            {
                var t = r.Pick(towns);
                var q = r.Pick([$"On which day is the market in {t.Name}?", $"When is market day in {t.Name}?"]);
                return Term(q, t.MarketDay, WorldTables.Weekdays, $"The market in {t.Name} is held on {t.MarketDay}.", $"Market day in {t.Name} is {t.MarketDay}.");
            }),
            new("river-length", r =>
            {
                var v = r.Pick(rivers);
                var q = r.Pick([$"How long is the {v.Name} river?", $"What is the length of the {v.Name}?"]);
                return Num(q, v.LengthKm, $"The {v.Name} is {v.LengthKm} kilometres long.", $"The {v.Name} river runs for {v.LengthKm} kilometres.");
            }),
            new("spelling", r =>
            {
                var w = r.Pick(Words);
                var spelled = string.Join("-", w.ToCharArray());
                var q = r.Pick([$"How do you spell {w}?", $"Spell the word {w} for me."]);
                return Exact(q, spelled, $"{w} is spelled {spelled}.", $"The word {w} is spelled {spelled}.");
            }),
            new("first-letter", r =>
            {
                var w = r.Pick(Words);
                var letter = $"letter {char.ToUpperInvariant(w[0])}";
                var q = r.Pick([$"What is the first letter of {w}?", $"Which letter does {w} start with?"]);
                return Term(q, letter, Letters, $"The word {w} starts with the {letter}.", $"The first letter of {w} is the {letter}.");
            }),
            new("word-length", r =>
            {
                var w = r.Pick(Words);
                var q = r.Pick([$"How many letters are in {w}?", $"How many letters does the word {w} have?"]);
                return Num(q, w.Length, $"The word {w} has {w.Length} letters.", $"There are {w.Length} letters in {w}.");
            }),
            new("number-ordering", r =>
            {
                var set = new SortedSet<int>();
                while (set.Count < 3) set.Add(r.Next(10, 100));
                var shown = Unsorted(r, set);
                var sorted = string.Join(", ", set);
                var q = r.Pick([$"Put {shown[0]}, {shown[1]} and {shown[2]} in order from smallest to largest.", $"Sort these numbers from small to large: {shown[0]}, {shown[1]}, {shown[2]}."]);
                return Exact(q, sorted, $"From smallest to largest: {sorted}.", $"In order they are {sorted}.");
            }),
            new("word-ordering", r =>
            {
                var set = new SortedSet<string>(StringComparer.Ordinal);
                while (set.Count < 3) set.Add(r.Pick(Words));
                var shown = Unsorted(r, set);
                var sorted = string.Join(", ", set);
                var q = r.Pick([$"Put these words in alphabetical order: {shown[0]}, {shown[1]}, {shown[2]}.", $"Sort {shown[0]}, {shown[1]} and {shown[2]} alphabetically."]);
                return Exact(q, sorted, $"In alphabetical order: {sorted}.", $"Sorted by letter they are {sorted}.");
            }),
            new("opposite", r =>
            {
                var (a, b) = r.Pick(Opposites);
                if (r.Next(2) == 0) (a, b) = (b, a);
                var q = r.Pick([$"What is the opposite of {a}?", $"Give me a word that means the opposite of {a}."]);
                return Term(q, b, opposites, $"The opposite of {a} is {b}.", $"A word with the opposite meaning of {a} is {b}.");
            }),
            new("plural", r =>
            {
                var (s, p) = r.Pick(Plurals);
                var q = r.Pick([$"What is the plural of {s}?", $"How do you say more than one {s}?"]);
                return Term(q, p, plurals, $"The plural of {s} is {p}.", $"More than one {s} are called {p}.");
            }),
            new("next-weekday", r =>
            {
                var i = r.Next(7);
                var day = WorldTables.Weekdays[i];
                var next = WorldTables.Weekdays[(i + 1) % 7];
                var q = r.Pick([$"What day comes after {day}?", $"Which day follows {day}?"]);
                return Term(q, next, WorldTables.Weekdays, $"The day after {day} is {next}.", $"{day} is followed by {next}.");
            }),
        ];
    }
}
