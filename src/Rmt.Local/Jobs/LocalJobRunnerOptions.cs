using System.Diagnostics;
using System.Globalization;
using Rmt.Contracts;

namespace Rmt.Local.Jobs;

/// <summary>How the local job runner starts and watches trainer processes.</summary>
public sealed record LocalJobRunnerOptions
{
    /// <summary>The trainer command before its arguments: ["dotnet", ".../Rmt.GpuJob.dll"] (see
    /// <see cref="ForGpuJob"/>). The runner appends `run --job-file {file} --work-dir {dir} --cancel-poll {s}`.</summary>
    public required IReadOnlyList<string> Command { get; init; }

    /// <summary>Job files, job logs and the trainers' scratch folders live under here.</summary>
    public required string WorkRoot { get; init; }

    /// <summary>Settings the child gets on top of this process's environment: storage (the Azurite
    /// connection string), queue names, device.</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    /// <summary>How long one receive waits for a job before it asks again.</summary>
    public TimeSpan ReceiveWait { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How often the run's cancel marker is checked while a job runs.</summary>
    public TimeSpan CancelCheckInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a cancelled job may take to save a checkpoint and stop before it is killed.</summary>
    public TimeSpan CancelGrace { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Start the trainer with --trace: it prints its spans (job, steps, checkpoints; the run's
    /// trace continued from TRACEPARENT) into its log under {WorkRoot}/logs, shown with --verbose.</summary>
    public bool TraceToConsole { get; init; }

    /// <summary>Same, when the local host itself stops.</summary>
    public TimeSpan ShutdownGrace { get; init; } = TimeSpan.FromSeconds(10);

    public void Validate()
    {
        if (Command is null || Command.Count == 0 || string.IsNullOrWhiteSpace(Command[0]))
            throw new ContractException("local job runner: the trainer command is empty; use LocalJobRunnerOptions.ForGpuJob(dll)");
        foreach (var part in Command.Where(p => p.EndsWith(".dll", StringComparison.Ordinal) || Path.IsPathRooted(p)))
            if (!File.Exists(part))
                throw new FileNotFoundException(
                    $"the trainer {part} does not exist; build it first (dotnet build src/Rmt.GpuJob -c Release, or ./run.sh)", part);
        Validation.NotEmpty(WorkRoot, "work root");
        foreach (var (name, value) in new[] { ("receive wait", ReceiveWait), ("cancel check interval", CancelCheckInterval), ("cancel grace", CancelGrace), ("shutdown grace", ShutdownGrace) })
            if (value <= TimeSpan.Zero)
                throw new ContractException($"local job runner: {name} is {value}; it must be positive");
    }

    public string DescribeCommand() => $"{string.Join(' ', Command)} run --job-file <job> --work-dir {WorkDir} --cancel-poll <s>";

    private const string SetSid = "/usr/bin/setsid";

    /// <summary>Where the trainer keeps its per-attempt scratch folders.</summary>
    public string WorkDir => Path.Combine(WorkRoot, "work");

    /// <summary>`dotnet {dll}` (how the container starts the trainer, too), or the file itself when it
    /// is not a .dll (a published executable).</summary>
    public static IReadOnlyList<string> ForGpuJob(string path) =>
        path.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) ? ["dotnet", Path.GetFullPath(path)] : [Path.GetFullPath(path)];

    internal ProcessStartInfo StartInfo(string jobFile, string? traceParent)
    {
        // In its own session (setsid), so that Ctrl+C in the terminal reaches only the local host,
        // which then asks the job to stop with SIGTERM: a preemption, retried at the next start, not a
        // user's cancel (which is what the job makes of SIGINT).
        var isolate = File.Exists(SetSid);
        var info = new ProcessStartInfo(isolate ? SetSid : Command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = WorkRoot,
        };
        // The job checks its run's cancel marker itself; locally as often as the runner does.
        var cancelPoll = Math.Max(1, CancelCheckInterval.TotalSeconds).ToString("0.###", CultureInfo.InvariantCulture);
        foreach (var arg in Command.Skip(isolate ? 0 : 1).Concat(["run", "--job-file", jobFile, "--work-dir", WorkDir, "--cancel-poll", cancelPoll]))
            info.ArgumentList.Add(arg);
        if (TraceToConsole) info.ArgumentList.Add("--trace");
        foreach (var (name, value) in Environment)
            info.Environment[name] = value;
        info.Environment[RmtSettings.Device] = "cpu";
        if (traceParent is not null) info.Environment[LocalTelemetry.TraceParentVariable] = traceParent;
        return info;
    }

    /// <summary>src/Rmt.GpuJob/bin/{configuration}/net10.0/Rmt.GpuJob.dll under the repository root;
    /// the other configuration when that one was not built.</summary>
    public static string FindGpuJob(string repoRoot, string configuration)
    {
        var candidates = new[] { configuration, configuration == "Release" ? "Debug" : "Release" }
            .Select(c => Path.Combine(repoRoot, "src", "Rmt.GpuJob", "bin", c, "net10.0", "Rmt.GpuJob.dll"))
            .ToList();
        return candidates.FirstOrDefault(File.Exists) ?? candidates[0];
    }
}
