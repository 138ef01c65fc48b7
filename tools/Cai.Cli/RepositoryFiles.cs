namespace Cai.Cli;

/// <summary>Finds the repository's own files (the default constitution) from wherever cai runs.</summary>
internal static class RepositoryFiles
{
    public const string DefaultConstitution = "constitutions/default.yaml";

    /// <summary><paramref name="given"/> when set (it must exist), else <paramref name="relative"/> found in
    /// the current folder or one above it, or beside the executable or above it.</summary>
    public static string Resolve(string? given, string relative, string option)
    {
        if (given is not null)
            return File.Exists(given) ? Path.GetFullPath(given) : throw new FileNotFoundException($"{option}: file not found: {given}", given);
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, relative);
                if (File.Exists(candidate)) return candidate;
            }
        throw new FileNotFoundException($"{relative} was not found above the current folder or the cai executable; pass {option} PATH.", relative);
    }
}
