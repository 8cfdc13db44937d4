using Microsoft.Extensions.Logging;
using Rmt.Cloud;
using Rmt.Contracts;
using Rmt.Local.Jobs;
using Rmt.Pipeline;
using Rmt.Local.Hosting;

namespace Rmt.Local;

/// <summary>How the local host runs. Defaults are what ./run.sh uses; tests shorten intervals and use
/// a temporary data folder.</summary>
public sealed record LocalHostOptions
{
    /// <summary>The repository root (holds Rmt.sln and node_modules/.bin/azurite).</summary>
    public required string RepoRoot { get; init; }

    /// <summary>Azurite's data ({DataDir}/azurite), job files and logs ({DataDir}/jobs), copied reports
    /// ({DataDir}/reports). Keep it to keep durable state across restarts.</summary>
    public required string DataDir { get; init; }

    /// <summary>An Azurite (or emulator) to use instead of starting one.</summary>
    public string? StorageConnectionString { get; init; }

    /// <summary>Fixed Azurite ports; free ports when null. Data never depends on the ports.</summary>
    public AzuritePorts? AzuritePorts { get; init; }

    /// <summary>Port of the HTTP API on 127.0.0.1; 0 picks a free one.</summary>
    public int Port { get; init; }

    public required LocalJobRunnerOptions JobRunner { get; init; }

    /// <summary>Whether this host runs stage jobs (tests may run a host without, to control them).</summary>
    public bool RunJobs { get; init; } = true;

    /// <summary>The durable backend on Azurite. The worker id stays the same across restarts, so a
    /// restarted host takes its partition back at once.</summary>
    public DurableSidecarOptions Durable { get; init; } = DefaultDurable;

    /// <summary>The local host's durable defaults (task hub "rmtlocal", worker "rmt-local", visibility
    /// timeouts 30 s, so a restarted host goes on within seconds); tests shorten them with <c>with</c>.</summary>
    public static DurableSidecarOptions DefaultDurable { get; } = new()
    {
        TaskHubName = "rmtlocal",
        WorkerId = "rmt-local",
        ControlQueueVisibilityTimeout = TimeSpan.FromSeconds(30),
        WorkItemQueueVisibilityTimeout = TimeSpan.FromSeconds(30),
    };

    public MessagingOptions Messaging { get; init; } = new() { PollInterval = TimeSpan.FromMilliseconds(250) };

    /// <summary>How the orchestration drives stages for a request; null uses the request's options.</summary>
    public Func<PipelineRequest, MonitorSettings>? Monitor { get; init; }

    /// <summary>Joins the pipeline's blob and queue clients (not the durable backend's, not the job
    /// process's): the chaos run injects storage faults with it.</summary>
    public Azure.Core.Pipeline.HttpPipelinePolicy? StoragePolicy { get; init; }

    public bool JsonLogs { get; init; }

    public bool TraceToConsole { get; init; }

    public LogLevel LogLevel { get; init; } = LogLevel.Information;

    public void Validate()
    {
        Validation.NotEmpty(RepoRoot, "repository root");
        Validation.NotEmpty(DataDir, "data folder");
        Validation.Range(Port, 0, 65535, "port");
        Durable.Validate();
        Messaging.Validate();
    }
}

public sealed record AzuritePorts(int Blob, int Queue, int Table);
