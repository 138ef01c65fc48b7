using System.Runtime.CompilerServices;

namespace Cai.Evaluation.Tests;

/// <summary>Paths in the repository, found from this source file (tests run from an artifacts folder
/// that may lie outside the repository).</summary>
internal static class Repo
{
    public static string Root { get; } = FindRoot();

    public static string DefaultConstitution => Path.Combine(Root, "constitutions", "default.yaml");

    private static string FindRoot([CallerFilePath] string source = "")
    {
        for (var dir = new DirectoryInfo(Path.GetDirectoryName(source)!); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "constitutions", "default.yaml"))) return dir.FullName;
        throw new InvalidOperationException($"No repository root (with constitutions/default.yaml) above {source}.");
    }
}
