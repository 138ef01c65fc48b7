using System.Runtime.CompilerServices;

namespace Cai.Testing;

/// <summary>The repository's root folder (the one holding CAI.sln), found from this source file: test binaries run from an artifacts folder that may be anywhere.</summary>
public static class RepositoryRoot
{
    public static string Path { get; } = Find();

    private static string Find([CallerFilePath] string source = "")
    {
        for (var dir = new DirectoryInfo(System.IO.Path.GetDirectoryName(source)!); dir is not null; dir = dir.Parent)
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "CAI.sln"))) return dir.FullName;
        throw new InvalidOperationException($"CAI.sln not found above {source}");
    }
}
