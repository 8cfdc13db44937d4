namespace Rmt.Training.Tests;

/// <summary>Where the shared read-only data lives: $RMT_SHARED, else ../shared next to the repository root.</summary>
public static class TestPaths
{
    public static string Shared { get; } = FindShared();

    public static string Fixture(string name) => Path.Combine(Shared, "fixtures", "hf", name);

    public static string TinyShakespeare => Path.Combine(Shared, "data", "tinyshakespeare", "input.txt");

    private static readonly string TempRoot = CreateTempRoot();

    /// <summary>A fresh folder under one per-process temp root that is deleted when the tests end.</summary>
    public static string TempDir(string prefix)
    {
        var dir = Path.Combine(TempRoot, $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static string CreateTempRoot()
    {
        // The test host is often ended without ProcessExit, so also remove roots of dead processes.
        foreach (var stale in Directory.GetDirectories(Path.GetTempPath(), "rmt-training-tests-*"))
        {
            if (!int.TryParse(Path.GetFileName(stale)["rmt-training-tests-".Length..], out int pid) || IsAlive(pid)) continue;
            try { Directory.Delete(stale, recursive: true); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        var root = Path.Combine(Path.GetTempPath(), $"rmt-training-tests-{Environment.ProcessId}");
        Directory.CreateDirectory(root);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(root, recursive: true); }
            catch (IOException) { }             // best effort: a file still open must not fail the run
            catch (UnauthorizedAccessException) { }
        };
        return root;
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static string FindShared()
    {
        var env = Environment.GetEnvironmentVariable("RMT_SHARED");
        if (!string.IsNullOrEmpty(env)) return env;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Rmt.sln")))
                return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared"));
        }
        throw new DirectoryNotFoundException("cannot find the repository root (Rmt.sln) above the test binaries; set RMT_SHARED");
    }
}
