namespace Cai.Core.Metrics;

/// <summary>One pairwise comparison between two players (policies): the score of A is 1 (A preferred), 0 (B preferred) or 0.5 (tie).</summary>
public sealed record PairwiseResult(string PlayerA, string PlayerB, double ScoreA);

/// <summary>
/// Elo ratings of policies from pairwise comparisons, as the paper reports harmlessness and helpfulness.
/// Ratings are the maximum-likelihood Bradley-Terry fit (not sequential Elo updates, whose result depends on the
/// order of games), on the Elo scale: P(A beats B) = 1 / (1 + 10^((R_B - R_A) / 400)).
/// </summary>
public static class EloRatings
{
    /// <summary>The probability that a player rated <paramref name="ratingA"/> beats one rated <paramref name="ratingB"/>.</summary>
    public static double WinProbability(double ratingA, double ratingB) => 1 / (1 + Math.Pow(10, (ratingB - ratingA) / 400));

    /// <summary>
    /// Fits ratings by the minorise-maximise iteration for Bradley-Terry (Hunter 2004); ties count half a win each.
    /// </summary>
    /// <param name="results">The comparisons.</param>
    /// <param name="priorGames">
    /// Virtual drawn games each player plays against a fixed reference of rating 0: keeps ratings finite for a
    /// player that won or lost everything. 0 disables the prior (then every player needs a win and a loss).
    /// </param>
    /// <param name="anchor">A player whose rating is set to 0; when null the ratings are shifted to mean 0.</param>
    /// <param name="cancellationToken">Checked every iteration.</param>
    /// <returns>Rating per player.</returns>
    public static IReadOnlyDictionary<string, double> Fit(
        IEnumerable<PairwiseResult> results, double priorGames = 1.0, string? anchor = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentOutOfRangeException.ThrowIfNegative(priorGames);
        var players = new Dictionary<string, int>(StringComparer.Ordinal);
        var games = new List<(int A, int B, double ScoreA)>();
        foreach (var r in results)
        {
            if (!(r.ScoreA >= 0 && r.ScoreA <= 1))
            {
                throw new ArgumentException($"score {r.ScoreA} of {r.PlayerA} vs {r.PlayerB} is not in [0, 1]", nameof(results));
            }

            if (r.PlayerA == r.PlayerB)
            {
                throw new ArgumentException($"player '{r.PlayerA}' cannot play itself", nameof(results));
            }

            games.Add((Index(r.PlayerA), Index(r.PlayerB), r.ScoreA));
        }

        if (players.Count == 0)
        {
            throw new ArgumentException("no results to rate", nameof(results));
        }

        if (anchor is not null && !players.ContainsKey(anchor))
        {
            throw new ArgumentException($"anchor '{anchor}' played no games", nameof(anchor));
        }

        int n = players.Count;
        var wins = new double[n];
        var played = new double[n];
        foreach (var (a, b, s) in games)
        {
            wins[a] += s;
            wins[b] += 1 - s;
            played[a]++;
            played[b]++;
        }

        for (int i = 0; i < n; i++)
        {
            wins[i] += 0.5 * priorGames;
            if (wins[i] <= 0 || wins[i] >= played[i] + priorGames)
            {
                var name = players.First(p => p.Value == i).Key;
                throw new InvalidOperationException(
                    $"player '{name}' won or lost every game: its maximum-likelihood rating is infinite; use priorGames > 0");
            }
        }

        var strength = Enumerable.Repeat(1.0, n).ToArray();
        for (int iteration = 0; iteration < 100_000; iteration++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var denominator = new double[n];
            foreach (var (a, b, _) in games)
            {
                double d = 1 / (strength[a] + strength[b]);
                denominator[a] += d;
                denominator[b] += d;
            }

            double maxChange = 0;
            var next = new double[n];
            for (int i = 0; i < n; i++)
            {
                next[i] = wins[i] / (denominator[i] + priorGames / (strength[i] + 1));
            }

            // Without the reference player the scale is free: fix the geometric mean at 1.
            if (priorGames == 0)
            {
                double logMean = next.Average(Math.Log);
                for (int i = 0; i < n; i++)
                {
                    next[i] /= Math.Exp(logMean);
                }
            }

            for (int i = 0; i < n; i++)
            {
                maxChange = Math.Max(maxChange, Math.Abs(Math.Log(next[i] / strength[i])));
            }

            strength = next;
            if (maxChange < 1e-12)
            {
                break;
            }
        }

        var ratings = strength.Select(s => 400 * Math.Log10(s)).ToArray();
        double shift = anchor is null ? ratings.Average() : ratings[players[anchor]];
        return players.ToDictionary(p => p.Key, p => ratings[p.Value] - shift, StringComparer.Ordinal);

        int Index(string player)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(player);
            if (!players.TryGetValue(player, out int index))
            {
                index = players.Count;
                players.Add(player, index);
            }

            return index;
        }
    }
}
