namespace Rmt.Training.Tests;

/// <summary>Where the shared read-only data lives: $RMT_SHARED, else ../shared next to the repository root.</summary>
public static class TestPaths
{
    public static string Shared { get; } = FindShared();

    public static string Fixture(string name) => Path.Combine(Shared, "fixtures", "hf", name);

    public static string TinyShakespeare => Path.Combine(Shared, "data", "tinyshakespeare", "input.txt");

    public static string TempDir(string prefix)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"rmt-{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
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
