using System.Collections.Concurrent;
using Cai.Core.Constitutions;

namespace Cai.Inference;

/// <summary>
/// Loads constitution files once per path (they are read by every request of the critique and labeling services).
/// A relative path resolves against the current directory and the folders above it, then against the
/// application's base directory and the folders above it, so <c>constitutions/default.yaml</c> is found from a build output inside the repository.
/// </summary>
public sealed class ConstitutionCache
{
    private readonly ConcurrentDictionary<string, Lazy<Constitution>> _loaded = new(StringComparer.Ordinal);

    /// <summary>The constitution in <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="ConstitutionFormatException">The file is malformed (names the entry and field).</exception>
    public Constitution Get(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string full = Resolve(path);
        var entry = _loaded.GetOrAdd(full, p => new Lazy<Constitution>(() => ConstitutionLoader.Load(p)));
        try
        {
            return entry.Value;
        }
        catch
        {
            // A file fixed later must load on the next request.
            _loaded.TryRemove(new KeyValuePair<string, Lazy<Constitution>>(full, entry));
            throw;
        }
    }

    /// <summary>The absolute path a constitution path refers to (unchanged when nothing matches).</summary>
    public static string Resolve(string path)
    {
        if (Path.IsPathRooted(path) || File.Exists(path)) return Path.GetFullPath(path);
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, path);
                if (File.Exists(candidate)) return candidate;
            }
        }
        return Path.GetFullPath(path);
    }
}
