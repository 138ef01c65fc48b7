using System.Text;
using System.Text.Json;

namespace Cai.Pipeline;

/// <summary>
/// An item stage's output file: JSON Lines, one record per item, appended as items finish and keyed by an id, so
/// a stage that stops part-way resumes with the items it lacks and never writes one twice. A last line cut short by
/// a crash is dropped when the file is opened. Records use <see cref="JsonSerializerOptions.Web"/> (camelCase), the
/// line format the services read (e.g. <c>{"id", "prompt", "kind"}</c>).
/// </summary>
public sealed class JsonlItems<T> : IDisposable
{
    private readonly Func<T, string> _idOf;
    private readonly Dictionary<string, T> _items = new(StringComparer.Ordinal);
    private readonly List<T> _ordered = [];
    private readonly Lock _lock = new();
    private StreamWriter? _writer;

    private JsonlItems(string path, Func<T, string> idOf)
    {
        Path = path;
        _idOf = idOf;
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>Items in the file, in the order written.</summary>
    public IReadOnlyList<T> Items
    {
        get { lock (_lock) return [.. _ordered]; }
    }

    /// <summary>Items written so far.</summary>
    public int Count
    {
        get { lock (_lock) return _ordered.Count; }
    }

    /// <summary>True when an item with this id is in the file.</summary>
    public bool Contains(string id)
    {
        lock (_lock) return _items.ContainsKey(id);
    }

    /// <summary>Opens (or creates) the file and reads what it holds; a torn last line is cut off.</summary>
    /// <exception cref="InvalidDataException">A complete line does not parse (names the file and line).</exception>
    public static JsonlItems<T> Open(string path, Func<T, string> idOf)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(idOf);
        var items = new JsonlItems<T>(path, idOf);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        if (!File.Exists(path)) return items;

        byte[] bytes = File.ReadAllBytes(path);
        int complete = Array.LastIndexOf(bytes, (byte)'\n') + 1;
        if (complete < bytes.Length)
        {
            // The writer died mid-line: keep the complete lines only.
            using var truncate = new FileStream(path, FileMode.Open, FileAccess.Write);
            truncate.SetLength(complete);
        }
        int line = 0;
        foreach (var text in Encoding.UTF8.GetString(bytes, 0, complete).Split('\n'))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            T item;
            try
            {
                item = JsonSerializer.Deserialize<T>(text, JsonSerializerOptions.Web)
                    ?? throw new InvalidDataException($"{path}:{line}: the record is null");
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{path}:{line}: {e.Message}", e);
            }
            if (items._items.TryAdd(idOf(item), item)) items._ordered.Add(item);
        }
        return items;
    }

    /// <summary>Reads the items of a file without keeping it open (empty when the file does not exist).</summary>
    public static IReadOnlyList<T> Read(string path, Func<T, string> idOf)
    {
        if (!File.Exists(path)) return [];
        using var items = Open(path, idOf);
        return items.Items;
    }

    /// <summary>Appends <paramref name="item"/> unless its id is already there; returns whether it was written.</summary>
    public bool Append(T item)
    {
        string id = _idOf(item);
        lock (_lock)
        {
            if (_items.ContainsKey(id)) return false;
            _writer ??= new StreamWriter(new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read), new UTF8Encoding(false));
            _writer.Write(JsonSerializer.Serialize(item, JsonSerializerOptions.Web));
            _writer.Write('\n');
            _writer.Flush();
            _items[id] = item;
            _ordered.Add(item);
            return true;
        }
    }

    public void Dispose()
    {
        lock (_lock) _writer?.Dispose();
    }
}
