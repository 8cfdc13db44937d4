using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Rmt.Cloud.Azurite;

/// <summary>A real Azurite (blob, queue and table) started by this process on free loopback ports,
/// in memory (or, with <see cref="AzuritePersistence"/>, in a data folder that outlives it), and stopped on dispose. Tests and the local host use it; nothing assumes an Azurite it
/// did not start. Azurite itself is pinned in package.json and installed by ./test.sh and ./run.sh
/// (npm ci); <see cref="FindExecutable"/> says what to run when it is missing.</summary>
public sealed class AzuriteServer : IAsyncDisposable
{
    // Azurite's well-known development account; valid only against the emulator.
    public const string AccountName = "devstoreaccount1";
    private const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private const string SetSid = "/usr/bin/setsid";
    private readonly bool _persistent;

    private AzuriteServer(Process process, int blobPort, int queuePort, int tablePort, bool persistent)
    {
        _process = process;
        _persistent = persistent;
        BlobPort = blobPort;
        QueuePort = queuePort;
        TablePort = tablePort;
    }

    public int BlobPort { get; }
    public int QueuePort { get; }
    public int TablePort { get; }

    public string ConnectionString =>
        $"DefaultEndpointsProtocol=http;AccountName={AccountName};AccountKey={AccountKey};" +
        $"BlobEndpoint=http://127.0.0.1:{BlobPort}/{AccountName};" +
        $"QueueEndpoint=http://127.0.0.1:{QueuePort}/{AccountName};" +
        $"TableEndpoint=http://127.0.0.1:{TablePort}/{AccountName};";

    /// <summary>Starts Azurite in memory on three free loopback ports and waits until all answer.</summary>
    public static Task<AzuriteServer> StartAsync(string? repoRoot = null, TimeSpan? timeout = null, CancellationToken ct = default) =>
        StartCoreAsync(null, repoRoot, timeout, ct);

    /// <summary>Starts Azurite with its data in <see cref="AzuritePersistence.Location"/> (a restart
    /// sees the same blobs, queues and tables) on the given ports, or free ones where none is given.</summary>
    public static Task<AzuriteServer> StartAsync(
        AzuritePersistence persistence, string? repoRoot = null, TimeSpan? timeout = null, CancellationToken ct = default) =>
        StartCoreAsync(persistence ?? throw new ArgumentNullException(nameof(persistence)), repoRoot, timeout, ct);

    private static async Task<AzuriteServer> StartCoreAsync(
        AzuritePersistence? persistence, string? repoRoot, TimeSpan? timeout, CancellationToken ct)
    {
        var executable = FindExecutable(repoRoot);
        for (var tries = 1; ; tries++)
        {
            var (blob, queue, table) = (persistence?.BlobPort ?? FreePort(), persistence?.QueuePort ?? FreePort(), persistence?.TablePort ?? FreePort());
            var workDir = persistence is null
                ? Directory.CreateTempSubdirectory("rmt-azurite-").FullName // private: random name, owner-only
                : Path.GetFullPath(persistence.Location);
            Directory.CreateDirectory(workDir);
            // A persistent Azurite (the local host's) runs in its own session, so that Ctrl+C in the
            // terminal reaches only the host, which stops Azurite last, after everything that uses it.
            var isolate = persistence is not null && File.Exists(SetSid);
            var info = new ProcessStartInfo(isolate ? SetSid : executable)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                WorkingDirectory = workDir,
            };
            string[] storage = persistence is null ? ["--inMemoryPersistence"] : ["--location", workDir];
            if (isolate) info.ArgumentList.Add(executable);
            foreach (var arg in storage.Concat(
                     [
                         "--skipApiVersionCheck", "--loose", "--disableProductStyleUrl",
                         "--blobHost", "127.0.0.1", "--blobPort", blob.ToString(),
                         "--queueHost", "127.0.0.1", "--queuePort", queue.ToString(),
                         "--tableHost", "127.0.0.1", "--tablePort", table.ToString(),
                     ]))
                info.ArgumentList.Add(arg);

            var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {executable}");
            var server = new AzuriteServer(process, blob, queue, table, persistence is not null);
            process.OutputDataReceived += (_, e) => server.Record(e.Data);
            process.ErrorDataReceived += (_, e) => server.Record(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();

            if (await server.WaitUntilListeningAsync(timeout ?? TimeSpan.FromSeconds(60), ct))
                return server;
            var log = server.Log;
            await server.DisposeAsync();
            // Another process may have taken a port between our check and Azurite's bind: try new ports.
            if (tries >= 3 || !log.Contains("EADDRINUSE", StringComparison.Ordinal) || persistence?.HasFixedPorts == true)
                throw new InvalidOperationException($"Azurite did not start on ports {blob}/{queue}/{table}. Its output:\n{log}");
        }
    }

    /// <summary>node_modules/.bin/azurite under the repository root (found by walking up to Rmt.sln).</summary>
    public static string FindExecutable(string? repoRoot = null)
    {
        repoRoot ??= FindRepoRoot();
        var path = Path.Combine(repoRoot, "node_modules", ".bin", "azurite");
        return File.Exists(path)
            ? path
            : throw new FileNotFoundException(
                $"Azurite is not installed at {path}. Run `npm ci` in {repoRoot} (./test.sh and ./run.sh do this for you).", path);
    }

    public static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Rmt.sln")))
                return dir.FullName;
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Rmt.sln")))
                return dir.FullName;
        throw new DirectoryNotFoundException("could not find the RMT repository root (a folder holding Rmt.sln) above " + AppContext.BaseDirectory);
    }

    public string Log
    {
        get { lock (_output) return _output.ToString(); }
    }

    private void Record(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }

    private async Task<bool> WaitUntilListeningAsync(TimeSpan timeout, CancellationToken ct)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            if (_process.HasExited) return false;
            if (await IsListeningAsync(BlobPort, ct) && await IsListeningAsync(QueuePort, ct) && await IsListeningAsync(TablePort, ct))
                return true;
            await Task.Delay(100, ct);
        }
        return false;
    }

    private static async Task<bool> IsListeningAsync(int port, CancellationToken ct)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, port, ct);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>A port that was free a moment ago: bound by the OS to port 0, then released.</summary>
    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            // A persistent Azurite saves its metadata every few seconds and on SIGTERM: ask it to stop
            // first, so that a restart finds everything the previous run wrote.
            if (_persistent && !_process.HasExited && PosixSignal.Terminate(_process.Id))
            {
                using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                try
                {
                    await _process.WaitForExitAsync(grace.Token);
                }
                catch (OperationCanceledException)
                {
                    // it did not stop in time: killed below
                }
            }
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
        _process.Dispose();
    }
}

/// <summary>An Azurite that keeps its data in <paramref name="Location"/> (e.g. .rmt/azurite) across
/// restarts. Ports left null are chosen free at each start; data never depends on the ports.</summary>
public sealed record AzuritePersistence(string Location, int? BlobPort = null, int? QueuePort = null, int? TablePort = null)
{
    public bool HasFixedPorts => BlobPort is not null || QueuePort is not null || TablePort is not null;
}
