using Rmt.Contracts;

namespace Rmt.Jobs;

/// <summary>How a job process behaves around the stage it runs. Defaults suit the container; tests
/// shorten the intervals.</summary>
public sealed record JobRunnerOptions
{
    private static readonly Lazy<string> PrivateTemp = new(() => Directory.CreateTempSubdirectory("rmt-jobs-").FullName);
    private readonly string? _workRoot;

    /// <summary>Local scratch root; each attempt works in {WorkRoot}/{runId}/{stage}/attempt-{n}. The
    /// default is a private temporary folder (random name, owner-only), made on first use: a predictable
    /// name under /tmp could be created beforehand by another user of the machine.</summary>
    public string WorkRoot
    {
        get => _workRoot ?? PrivateTemp.Value;
        init => _workRoot = value;
    }

    /// <summary>How long `run` waits for a message before it exits with nothing to do.</summary>
    public TimeSpan ReceiveWait { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How often the run's cancel marker blob is checked while the stage runs.</summary>
    public TimeSpan CancelPollInterval { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How often a claimed job publishes a heartbeat event; well under the orchestration's
    /// heartbeat timeout (PipelineOptions.HeartbeatTimeoutMinutes, 10 by default).</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Keep the attempt's work folder after success (it is always kept after a failure).</summary>
    public bool KeepWorkDir { get; init; }

    /// <summary>Device that overrides the stage config's (RMT_DEVICE); null keeps the config's.</summary>
    public string? Device { get; init; }

    /// <summary>The W3C trace context this process was started under (TRACEPARENT, set by the local job
    /// runner); its job spans continue it. Null: they continue the job's own <see cref="StageJob.TraceParent"/>.</summary>
    public string? TraceParent { get; init; }

    /// <summary>How many earlier deliveries of a job may have been received and never settled (executions
    /// that died before claiming it, see <see cref="DeliveryLog"/>) before the next one dead-letters it and
    /// fails the stage. Below the queue's maxDeliveryCount (5), so this guard, which says why, acts first.</summary>
    public int MaxUnsettledDeliveries { get; init; } = 3;

    /// <summary>False for a run from a terminal (<see cref="FolderJob"/>): a person may rerun a stage with
    /// more steps, another config or edited data and resume from its checkpoints. The container job keeps
    /// a run's inputs fixed: a checkpoint saved under another stage config is refused, and each dataset's
    /// hash is pinned to the run.</summary>
    public bool FixedInputs { get; init; } = true;

    /// <summary>Names this process in claims, manifests and events.</summary>
    public string Host { get; init; } = Environment.MachineName;

    public void Validate()
    {
        Validation.NotEmpty(WorkRoot, "work root");
        if (ReceiveWait < TimeSpan.Zero) throw new ContractException("receive wait is negative; use 0 or more seconds");
        if (CancelPollInterval <= TimeSpan.Zero) throw new ContractException("cancel poll interval must be positive");
        if (HeartbeatInterval <= TimeSpan.Zero) throw new ContractException("heartbeat interval must be positive");
        Validation.NotEmpty(Host, "host");
        if (MaxUnsettledDeliveries < 1) throw new ContractException($"max unsettled deliveries is {MaxUnsettledDeliveries}; use 1 or more");
        if (Device is not null && Device != "cpu" && Device != "cuda" && !Device.StartsWith("cuda:", StringComparison.Ordinal))
            throw new ContractException($"{RmtSettings.Device} is '{Device}'; use \"cpu\", \"cuda\" or \"cuda:N\", or unset it to use each job's configured device");
    }
}

/// <summary>Blobs the job writes beside the ones in <see cref="BlobLayout"/>.</summary>
public static class JobBlobs
{
    /// <summary>runs/{runId}/{stage}/result.json: the completed stage's result. A later attempt that
    /// finds it republishes 'completed' instead of training again.</summary>
    public static string StageResult(string runId, string stage) => $"{BlobLayout.StageArtifacts(runId, stage)}/result.json";

    /// <summary>runs/{runId}/{stage}/plots/{file}</summary>
    public static string Plot(string runId, string stage, string file) => $"{BlobLayout.StageArtifacts(runId, stage)}/plots/{file}";

    /// <summary>runs/{runId}/{stage}/deliveries/attempt-{n}.jsonl: the delivery marker (<see cref="DeliveryLog"/>).</summary>
    public static string Deliveries(string runId, string stage, int attempt) =>
        $"{BlobLayout.StageArtifacts(runId, stage)}/deliveries/attempt-{attempt.ToString(System.Globalization.CultureInfo.InvariantCulture)}.jsonl";

    /// <summary>Written into every checkpoint folder: the job (and so the stage config) that produced it.</summary>
    public const string JobFileName = "stage_job.json";
}
