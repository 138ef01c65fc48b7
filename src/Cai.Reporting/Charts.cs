using Cai.Core.Metrics;
using ScottPlot;

namespace Cai.Reporting;

/// <summary>One labelled point of a chart, with optional error extents (distance below/above, left/right).</summary>
public sealed record ChartPoint(string Label, double X, double Y,
    double XLow = 0, double XHigh = 0, double YLow = 0, double YHigh = 0);

/// <summary>A named line of points, drawn in order.</summary>
public sealed record ChartSeries(string Name, IReadOnlyList<ChartPoint> Points);

/// <summary>The report's PNG charts (ScottPlot 5). Every method writes one PNG and creates its folder.</summary>
public static class Charts
{
    private const int Width = 720;
    private const int Height = 480;

    /// <summary>
    /// The paper's helpfulness-versus-harmlessness chart: one point per policy, connected in pipeline order, each
    /// labelled; error bars when the points carry them.
    /// </summary>
    public static void Frontier(string path, string title, string xLabel, string yLabel, IReadOnlyList<ChartSeries> series, bool unitSquare)
    {
        var plot = new Plot();
        int index = 0;
        foreach (var s in series)
        {
            var points = s.Points.Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).ToList();
            if (points.Count == 0) continue;
            var color = plot.Add.Palette.GetColor(index++);
            var line = plot.Add.Scatter(points.Select(p => p.X).ToArray(), points.Select(p => p.Y).ToArray(), color);
            if (series.Count > 1) line.LegendText = s.Name;
            line.MarkerSize = 9;
            line.LineWidth = 2;
            if (points.Any(p => p.XLow + p.XHigh + p.YLow + p.YHigh > 0))
            {
                var bars = new ScottPlot.Plottables.ErrorBar(
                    points.Select(p => p.X).ToArray(), points.Select(p => p.Y).ToArray(),
                    points.Select(p => p.XLow).ToArray(), points.Select(p => p.XHigh).ToArray(),
                    points.Select(p => p.YLow).ToArray(), points.Select(p => p.YHigh).ToArray())
                {
                    LineColor = color,
                };
                plot.Add.Plottable(bars);
            }

            foreach (var p in points)
            {
                var label = plot.Add.Text(p.Label, p.X, p.Y);
                label.LabelFontSize = 12;
                label.LabelFontColor = color;
                label.LabelAlignment = Alignment.LowerLeft;
                label.OffsetX = 6;
                label.OffsetY = -6;
            }
        }

        if (series.Count > 1) plot.ShowLegend(Edge.Right);
        if (unitSquare)
        {
            plot.Axes.SetLimits(-0.03, 1.12, -0.04, 1.08);
        }
        else
        {
            plot.Axes.AutoScale();
            plot.Axes.Margins(0.25, 0.25);
        }

        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        Save(plot, path);
    }

    /// <summary>Grouped bars: one group per category (x), one bar per series within it, with a legend.</summary>
    public static void GroupedBars(string path, string title, string yLabel, IReadOnlyList<string> categories,
        IReadOnlyList<(string Name, IReadOnlyList<double?> Values)> series)
    {
        var plot = new Plot();
        double width = 0.8 / Math.Max(1, series.Count);
        for (int s = 0; s < series.Count; s++)
        {
            var color = plot.Add.Palette.GetColor(s);
            var bars = new List<Bar>();
            for (int c = 0; c < categories.Count; c++)
            {
                if (series[s].Values[c] is not { } value || !double.IsFinite(value)) continue;
                bars.Add(new Bar
                {
                    Position = c - 0.4 + width * (s + 0.5),
                    Value = value,
                    Size = width * 0.9,
                    FillColor = color,
                });
            }

            var added = plot.Add.Bars(bars);
            added.LegendText = series[s].Name;
        }

        plot.Axes.Bottom.SetTicks([.. Enumerable.Range(0, categories.Count).Select(i => (double)i)], [.. categories]);
        var zero = plot.Add.HorizontalLine(0);
        zero.LineColor = Colors.Gray;
        zero.LineWidth = 1;
        plot.ShowLegend(Alignment.UpperLeft);
        plot.Axes.AutoScale();
        plot.Axes.Margins(0.1, 0.2);
        plot.Title(title);
        plot.YLabel(yLabel);
        Save(plot, path);
    }

    /// <summary>
    /// Reliability diagram of several predictors: each non-empty bin's mean predicted probability against the observed
    /// frequency, one line per predictor, against the diagonal of perfect calibration.
    /// </summary>
    public static void Reliability(string path, string title, IReadOnlyList<(string Name, CalibrationReport Report)> series)
    {
        var plot = new Plot();
        var diagonal = plot.Add.Line(0, 0, 1, 1);
        diagonal.LineColor = Colors.Gray;
        diagonal.LinePattern = LinePattern.Dashed;
        diagonal.LegendText = "perfect calibration";
        int index = 0;
        foreach (var (name, report) in series)
        {
            var bins = report.Bins.Where(b => b.MeanPredicted is not null && b.ObservedFrequency is not null && b.Count > 0).ToList();
            if (bins.Count == 0) continue;
            var line = plot.Add.Scatter(
                bins.Select(b => b.MeanPredicted!.Value).ToArray(), bins.Select(b => b.ObservedFrequency!.Value).ToArray(),
                plot.Add.Palette.GetColor(index++));
            line.LegendText = $"{name} (ECE {report.ExpectedCalibrationError:F3}, n = {report.Count})";
            line.MarkerSize = 7;
            line.LineWidth = 2;
        }

        plot.Axes.SetLimits(-0.02, 1.02, -0.03, 1.05);
        plot.ShowLegend(Alignment.LowerRight);
        plot.Title(title);
        plot.XLabel("predicted probability");
        plot.YLabel("observed frequency");
        Save(plot, path);
    }

    /// <summary>Curves over iterations: one line per series (NaN values skipped).</summary>
    public static void Curves(string path, string title, string xLabel, string yLabel,
        IReadOnlyList<(string Name, IReadOnlyList<double> Xs, IReadOnlyList<double> Ys)> series)
    {
        var plot = new Plot();
        int index = 0;
        foreach (var (name, xs, ys) in series)
        {
            var finite = xs.Zip(ys).Where(p => double.IsFinite(p.First) && double.IsFinite(p.Second)).ToList();
            if (finite.Count == 0) continue;
            var line = plot.Add.Scatter(finite.Select(p => p.First).ToArray(), finite.Select(p => p.Second).ToArray(),
                plot.Add.Palette.GetColor(index++));
            if (series.Count > 1) line.LegendText = name;
            line.MarkerSize = finite.Count > 40 ? 0 : 5;
            line.LineWidth = 2;
        }

        if (series.Count > 1) plot.ShowLegend(Alignment.UpperLeft);
        plot.Axes.AutoScale();
        plot.Axes.Margins(0.05, 0.15);
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        Save(plot, path);
    }

    private static void Save(Plot plot, string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(folder)) Directory.CreateDirectory(folder);
        plot.SavePng(path, Width, Height);
    }
}
