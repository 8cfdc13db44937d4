using System.Diagnostics;
using Rmt.Cloud.Azurite;
using Rmt.Local.Jobs;

namespace Rmt.Local.Tests;

/// <summary>A temporary folder, deleted on dispose.</summary>
public sealed class TempFolder : IDisposable
{
    public TempFolder() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "rmt-local-tests", Guid.NewGuid().ToString("N")[..12]);

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // a child process may still hold a file for a moment; the OS cleans temp later
        }
    }
}

/// <summary>Small POSIX shell programs that stand in for the trainer process where a test is about
/// what the local job runner does with a process (start, watch, stop, report), not about training:
/// they are real child processes, started and stopped exactly like Rmt.GpuJob.</summary>
public static class TrainerScripts
{
    /// <summary>Dies by SIGKILL at once, as a crashed or killed trainer does.</summary>
    public const string Crash = "kill -9 $$\n";

    /// <summary>Runs until killed and ignores SIGTERM (a trainer stuck in a long step).</summary>
    public const string Stubborn = "trap '' TERM\necho started\nwhile true; do sleep 0.2; done\n";

    /// <summary>Writes its arguments and TRACEPARENT next to itself, then exits 0.</summary>
    public const string Record = "dir=$(dirname \"$0\")\necho \"$@\" > \"$dir/args.txt\"\necho \"$TRACEPARENT\" > \"$dir/traceparent.txt\"\nexit 0\n";

    public static IReadOnlyList<string> Write(TempFolder folder, string script)
    {
        var path = folder.File($"trainer-{Guid.NewGuid():N}.sh");
        System.IO.File.WriteAllText(path, "#!/bin/sh\n" + script);
        return ["/bin/sh", path];
    }
}

public static class Wait
{
    /// <summary>Polls <paramref name="condition"/> until it holds; fails with <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static async Task<T> UntilAsync<T>(Func<Task<T?>> condition, TimeSpan timeout, string what) where T : class
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (await condition() is { } value) return value;
            await Task.Delay(200);
        }
        throw new TimeoutException($"waited {timeout.TotalSeconds:0} s for {what}");
    }

    public static Task UntilAsync(Func<bool> condition, TimeSpan timeout, string what) =>
        UntilAsync<object>(() => Task.FromResult(condition() ? new object() : null), timeout, what);

    public static bool ProcessIsGone(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return process.HasExited;
        }
        catch (ArgumentException)
        {
            return true;
        }
    }
}

public static class Runners
{
    public static LocalJobRunnerOptions Options(TempFolder folder, IReadOnlyList<string> command) => new()
    {
        Command = command,
        WorkRoot = folder.File("jobs"),
        ReceiveWait = TimeSpan.FromMilliseconds(300),
        CancelCheckInterval = TimeSpan.FromMilliseconds(300),
        CancelGrace = TimeSpan.FromSeconds(1),
        ShutdownGrace = TimeSpan.FromSeconds(1),
    };
}
