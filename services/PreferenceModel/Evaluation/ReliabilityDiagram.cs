using Cai.Core.Metrics;
using ScottPlot;

namespace Cai.Services.PreferenceModel.Evaluation;

/// <summary>
/// The reliability diagram of a preference model's calibration, as the paper plots it: for each bin of predicted
/// probability, a bar at the observed frequency of the predicted outcome, against the diagonal of perfect
/// calibration. Empty bins have no bar.
/// </summary>
public static class ReliabilityDiagram
{
    /// <summary>Writes the diagram of <paramref name="report"/> to <paramref name="path"/> as a PNG.</summary>
    public static void Save(CalibrationReport report, string title, string path, int width = 640, int height = 480)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var plot = new Plot();
        var bars = report.Bins
            .Where(b => b.ObservedFrequency is not null)
            .Select(b => new Bar
            {
                Position = (b.Lower + b.Upper) / 2,
                Value = b.ObservedFrequency!.Value,
                Size = (b.Upper - b.Lower) * 0.9,
                FillColor = Colors.SteelBlue,
            })
            .ToList();
        if (bars.Count > 0) plot.Add.Bars(bars);
        var diagonal = plot.Add.Line(0, 0, 1, 1);
        diagonal.LineColor = Colors.Gray;
        diagonal.LinePattern = LinePattern.Dashed;
        diagonal.LegendText = "perfect calibration";
        plot.Axes.SetLimits(0, 1, 0, 1);
        plot.Title($"{title} (ECE {report.ExpectedCalibrationError:F3}, n = {report.Count})");
        plot.XLabel("predicted probability");
        plot.YLabel("observed frequency");
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(folder)) Directory.CreateDirectory(folder);
        plot.SavePng(path, width, height);
    }
}
