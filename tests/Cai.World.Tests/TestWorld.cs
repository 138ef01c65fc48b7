using System.Runtime.CompilerServices;
using Cai.Core.Constitutions;
using Cai.World.Corpus;
using Cai.World.Tokenization;

namespace Cai.World.Tests;

/// <summary>The repository's folders, found from this source file (tests run from an artifacts folder
/// elsewhere): the folder holding CAI.sln or Directory.Packages.props.</summary>
internal static class Repo
{
    public static string Root { get; } = FindRoot();

    private static string FindRoot([CallerFilePath] string path = "")
    {
        for (var dir = new DirectoryInfo(Path.GetDirectoryName(path)!); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "CAI.sln")) || File.Exists(Path.Combine(dir.FullName, "Directory.Packages.props")))
                return dir.FullName;
        throw new InvalidOperationException($"no repository root above {path}");
    }

    public static Constitution DefaultConstitution() =>
        ConstitutionLoader.Load(Path.Combine(Root, "constitutions", "default.yaml"));
}

/// <summary>A world, its corpus and tokenizer, shared by a test class (generation is deterministic).</summary>
public abstract class WorldFixture
{
    public SyntheticWorld World { get; }
    public Constitution Constitution { get; } = Repo.DefaultConstitution();
    public PretrainingCorpus Corpus { get; }
    public WordLevelTokenizer Tokenizer { get; }
    /// <summary>Seconds to generate the world, its corpus and its tokenizer.</summary>
    public double GenerationSeconds { get; }

    protected WorldFixture(WorldOptions options)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        World = SyntheticWorld.Generate(options);
        Corpus = CorpusBuilder.Build(World, Constitution);
        Tokenizer = WorldTokenizer.Build(World, Corpus, Constitution);
        GenerationSeconds = clock.Elapsed.TotalSeconds;
    }
}

/// <summary>The small test world.</summary>
public sealed class SmallWorldFixture() : WorldFixture(WorldOptions.Small);

/// <summary>The default world the main job trains on (built once for every test class that needs it).</summary>
public sealed class DefaultWorldFixture() : WorldFixture(new WorldOptions());

[CollectionDefinition(Name)]
public sealed class DefaultWorldCollection : ICollectionFixture<DefaultWorldFixture>
{
    public const string Name = "default world";
}
