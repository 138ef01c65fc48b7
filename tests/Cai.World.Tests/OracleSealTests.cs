using System.Xml.Linq;

namespace Cai.World.Tests;

/// <summary>The oracle only measures: only evaluation code may reference it (tests, tools, and projects
/// whose name contains "Eval").</summary>
public sealed class OracleSealTests
{
    [Fact]
    public void OnlyEvaluationProjectsReferenceTheOracle()
    {
        var root = Repo.Root;
        var projects = Directory.EnumerateFiles(root, "*.csproj", SearchOption.AllDirectories)
            .Where(p => !Path.GetRelativePath(root, p).Split(Path.DirectorySeparatorChar)
                .Any(part => part is "artifacts" or "bin" or "obj" or ".git" or "node_modules"))
            .ToList();
        Assert.Contains(projects, p => Path.GetFileName(p) == "Cai.World.Oracle.csproj");

        var referencing = projects.Where(p => XDocument.Load(p).Descendants()
                .Where(e => e.Name.LocalName == "ProjectReference")
                .Select(e => (string?)e.Attribute("Include") ?? "")
                .Any(include => Path.GetFileNameWithoutExtension(include.Replace('\\', '/')) == "Cai.World.Oracle"))
            .ToList();
        // This test project references the oracle, so the scan must find at least that.
        Assert.Contains(referencing, p => Path.GetFileName(p) == "Cai.World.Tests.csproj");
        foreach (var project in referencing)
        {
            var relative = Path.GetRelativePath(root, project).Replace('\\', '/');
            var allowed = relative.StartsWith("tests/", StringComparison.Ordinal)
                || relative.StartsWith("tools/", StringComparison.Ordinal)
                || Path.GetFileNameWithoutExtension(project).Contains("Eval", StringComparison.Ordinal);
            Assert.True(allowed, $"{relative} references Cai.World.Oracle, but only evaluation code may");
        }
    }
}
