using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Cai.Streams;

/// <summary>
/// A local <c>redis-server</c> child process for tests and one-machine runs (no container runtime
/// needed): loopback only, a free port, append-only persistence in a folder of the caller's, no
/// RDB snapshots. <see cref="ServerArguments"/> gives the same arguments to hosts (AppHost, CLI)
/// that launch Redis themselves.
/// </summary>
public sealed class RedisServerProcess : IAsyncDisposable
{
    /// <summary>Environment variable naming the redis-server executable (default: <c>redis-server</c> on PATH).</summary>
    public const string ExecutableVariable = "CAI_REDIS_SERVER";

    private readonly Process _process;
    private readonly ConcurrentLog _log;

    private RedisServerProcess(Process process, ConcurrentLog log, int port, string dataDirectory)
    {
        _process = process;
        _log = log;
        Port = port;
        DataDirectory = dataDirectory;
        // A host that exits without disposing (e.g. a test run stopped midway) must not leave
        // an orphaned server behind holding the data folder.
        AppDomain.CurrentDomain.ProcessExit += KillOnExit;
    }

    private void KillOnExit(object? sender, EventArgs e)
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    /// <summary>The loopback port the server listens on.</summary>
    public int Port { get; }

    /// <summary>Where the append-only files are written.</summary>
    public string DataDirectory { get; }

    /// <summary>A StackExchange.Redis connection string for this server.</summary>
    public string ConnectionString => $"127.0.0.1:{Port}";

    /// <summary>Whether the process is still running.</summary>
    public bool IsRunning => !_process.HasExited;

    /// <summary>
    /// The command-line arguments for a loopback server on <paramref name="port"/> that persists
    /// every write to an append-only file in <paramref name="dataDirectory"/> and takes no RDB
    /// snapshots (the AOF already holds everything; snapshots would only cost pauses).
    /// </summary>
    public static IReadOnlyList<string> ServerArguments(int port, string dataDirectory)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(port, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        ArgumentException.ThrowIfNullOrWhiteSpace(dataDirectory);
        return
        [
            "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--bind", "127.0.0.1",
            "--appendonly", "yes",
            "--dir", dataDirectory,
            "--save", "",
            "--daemonize", "no",
        ];
    }

    /// <summary>
    /// Starts redis-server on a free loopback port with data in <paramref name="dataDirectory"/>
    /// (created if needed; an existing AOF there is loaded) and waits until it answers PING.
    /// </summary>
    /// <param name="dataDirectory">Folder for the append-only files.</param>
    /// <param name="executable">The redis-server executable; default <c>$CAI_REDIS_SERVER</c> or <c>redis-server</c>.</param>
    /// <param name="startTimeout">How long to wait for PING (default 10 s; loading a large AOF takes longer).</param>
    /// <param name="cancellationToken">Cancels the start (the process is then stopped).</param>
    public static async Task<RedisServerProcess> StartAsync(string dataDirectory, string? executable = null, TimeSpan? startTimeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(dataDirectory);
        executable ??= Environment.GetEnvironmentVariable(ExecutableVariable) is { Length: > 0 } fromEnv ? fromEnv : "redis-server";
        var dir = Path.GetFullPath(dataDirectory);
        Directory.CreateDirectory(dir);
        var timeout = startTimeout ?? TimeSpan.FromSeconds(10);

        // A port found free can be taken before redis binds it: try a few times.
        const int attempts = 3;
        for (var attempt = 1; ; attempt++)
        {
            var port = FreeLoopbackPort();
            var server = Launch(executable, port, dir);
            try
            {
                await server.WaitForPingAsync(timeout, cancellationToken).ConfigureAwait(false);
                return server;
            }
            catch (Exception ex) when (ex is not OperationCanceledException && attempt < attempts && server._log.Text.Contains("Address already in use", StringComparison.Ordinal))
            {
                await server.DisposeAsync().ConfigureAwait(false);
            }
            catch
            {
                await server.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }
    }

    private static RedisServerProcess Launch(string executable, int port, string dir)
    {
        var info = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in ServerArguments(port, dir))
        {
            info.ArgumentList.Add(arg);
        }
        var log = new ConcurrentLog();
        Process process;
        try
        {
            process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start '{executable}'.");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException(
                $"Could not start '{executable}': {ex.Message}. Install Redis >= 7.0 (Debian/Ubuntu: apt-get install -y redis-server) " +
                $"or set {ExecutableVariable} to the redis-server path.", ex);
        }
        // Drain both pipes: a full pipe would block the server; the text explains start failures.
        process.OutputDataReceived += (_, e) => log.Add(e.Data);
        process.ErrorDataReceived += (_, e) => log.Add(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new RedisServerProcess(process, log, port, dir);
    }

    private async Task WaitForPingAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"redis-server exited with code {_process.ExitCode} on port {Port}. Its output:\n{_log.Text}");
            }
            // "+PONG" only once the AOF is loaded; "-LOADING" before.
            if (await SendAsync("PING", cancellationToken).ConfigureAwait(false) == "+PONG")
            {
                return;
            }
            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"redis-server on port {Port} did not answer PING within {timeout}. Its output:\n{_log.Text}");
            }
            await Task.Delay(20, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Sends one inline command and returns the first reply line, or null when the server cannot be reached.</summary>
    private async Task<string?> SendAsync(string command, CancellationToken cancellationToken)
    {
        try
        {
            using var client = new TcpClient();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(2));
            await client.ConnectAsync(IPAddress.Loopback, Port, timeout.Token).ConfigureAwait(false);
            var stream = client.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes(command + "\r\n"), timeout.Token).ConfigureAwait(false);
            var buffer = new byte[256];
            var read = await stream.ReadAsync(buffer, timeout.Token).ConfigureAwait(false);
            return read == 0 ? null : Encoding.ASCII.GetString(buffer, 0, read).Split("\r\n")[0];
        }
        catch (Exception ex) when (ex is SocketException or IOException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return null;
        }
    }

    /// <summary>
    /// Stops the server gracefully (SHUTDOWN flushes the append-only file), killing it if it has
    /// not exited within <paramref name="timeout"/> (default 10 s).
    /// </summary>
    public async Task StopAsync(TimeSpan? timeout = null)
    {
        if (_process.HasExited)
        {
            return;
        }
        await SendAsync("SHUTDOWN", CancellationToken.None).ConfigureAwait(false);
        using var wait = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        try
        {
            await _process.WaitForExitAsync(wait.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            _process.Kill();
            await _process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>The server's console output so far (for diagnosing failures).</summary>
    public string Output => _log.Text;

    /// <summary>Stops the server (see <see cref="StopAsync"/>); the data folder is kept.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync().ConfigureAwait(false);
        }
        finally
        {
            AppDomain.CurrentDomain.ProcessExit -= KillOnExit;
            _process.Dispose();
        }
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed class ConcurrentLog
    {
        private readonly StringBuilder _text = new();

        public void Add(string? line)
        {
            if (line is null)
            {
                return;
            }
            lock (_text)
            {
                _text.AppendLine(line);
            }
        }

        public string Text
        {
            get
            {
                lock (_text)
                {
                    return _text.ToString();
                }
            }
        }
    }
}
