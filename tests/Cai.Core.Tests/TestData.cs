using System.Runtime.CompilerServices;

namespace Cai.Core.Tests;

/// <summary>Locates test inputs: the shipped constitutions and the shared reference data.</summary>
internal static class TestData
{
    /// <summary>A shipped constitution file, copied next to the test assembly.</summary>
    public static string Constitution(string fileName) =>
        Path.Combine(AppContext.BaseDirectory, "constitutions", fileName);

    /// <summary>
    /// The shared data folder (holding cai-paper/ and hh-rlhf/), or null when absent. Found by walking up from the
    /// test assembly and from this source file (artifacts may be built outside the repository), looking for
    /// shared/data/cai-paper at each level.
    /// </summary>
    public static string? SharedData { get; } = FindSharedData();

    public const string MissingReason = "shared/data/cai-paper not found above the test assembly or the test sources";

    private static string? FindSharedData([CallerFilePath] string sourceFile = "")
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Path.GetDirectoryName(sourceFile) })
        {
            for (var dir = string.IsNullOrEmpty(start) ? null : new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "shared", "data");
                if (Directory.Exists(Path.Combine(candidate, "cai-paper")))
                {
                    return candidate;
                }
            }
        }

        return null;
    }
}

/// <summary>A fact that is skipped, with the reason stated, when the shared reference data is absent.</summary>
internal sealed class SharedDataFactAttribute : FactAttribute
{
    public SharedDataFactAttribute()
    {
        if (TestData.SharedData is null)
        {
            Skip = TestData.MissingReason;
        }
    }
}
