using System.Diagnostics;
using Rmt.Contracts;

namespace Rmt.Local.Jobs;

/// <summary>How the local job runner starts and watches trainer processes.</summary>
public sealed record LocalJobRunnerOptions
{
    /// <summary>Rmt.GpuJob.dll, run with `dotnet`; see <see cref="FindGpuJob"/>.</summary>
    public required string GpuJobDll { get; init; }

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

    /// <summary>Same, when the local host itself stops.</summary>
    public TimeSpan ShutdownGrace { get; init; } = TimeSpan.FromSeconds(10);

    public void Validate()
    {
        if (!File.Exists(GpuJobDll))
            throw new FileNotFoundException(
                $"the trainer {GpuJobDll} does not exist; build it first (dotnet build src/Rmt.GpuJob -c Release, or ./run.sh)", GpuJobDll);
        Validation.NotEmpty(WorkRoot, "work root");
        foreach (var (name, value) in new[] { ("receive wait", ReceiveWait), ("cancel check interval", CancelCheckInterval), ("cancel grace", CancelGrace), ("shutdown grace", ShutdownGrace) })
            if (value <= TimeSpan.Zero)
                throw new ContractException($"local job runner: {name} is {value}; it must be positive");
    }

    public string DescribeCommand() => $"dotnet {GpuJobDll} run --job-file <job>";

    internal ProcessStartInfo StartInfo(string jobFile, string? traceParent)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = WorkRoot,
        };
        foreach (var arg in new[] { GpuJobDll, "run", "--job-file", jobFile })
            info.ArgumentList.Add(arg);
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
