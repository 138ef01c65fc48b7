namespace Cai.Training;

/// <summary>Copies a checkpoint's tokenizer files beside saved weights, so every saved folder is a
/// complete Hugging Face checkpoint that the next stage can load on its own.</summary>
internal static class ModelFiles
{
    private static readonly string[] TokenizerFiles = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"];

    public static void CopyTokenizer(string? sourceDirectory, string targetDirectory)
    {
        if (sourceDirectory is null) return;
        if (Path.GetFullPath(sourceDirectory) == Path.GetFullPath(targetDirectory)) return;
        foreach (var name in TokenizerFiles)
        {
            var source = Path.Combine(sourceDirectory, name);
            if (File.Exists(source)) File.Copy(source, Path.Combine(targetDirectory, name), overwrite: true);
        }
    }

    public static void RequireTokenizer(string? directory, string parameter)
    {
        if (directory is not null && !File.Exists(Path.Combine(directory, "tokenizer.json")))
            throw new FileNotFoundException($"{parameter}: no tokenizer.json in {directory}.", Path.Combine(directory, "tokenizer.json"));
    }
}
