namespace Rmt.Jobs;

/// <summary>Why a job was asked to stop before its end.</summary>
public enum StopReason
{
    /// <summary>SIGTERM: the platform takes the machine back (GPU preemption, scale-in). A retry resumes.</summary>
    Preempted,

    /// <summary>Ctrl+C or the run's cancel marker blob: a person wants it stopped. No retry.</summary>
    UserCancel,

    /// <summary>The attempt's stop marker: the orchestration gave this attempt up (it timed out and a newer
    /// attempt runs, or the stage ended). Stops without saving a checkpoint; no retry.</summary>
    Superseded,
}

/// <summary>A graceful stop request: the stage saves a checkpoint at its next step boundary,
/// publishes 'failed' (kind cancelled) and the process exits. The first request wins.</summary>
public sealed class JobStopSignal : IDisposable
{
    private readonly CancellationTokenSource _source = new();
    private int _reason = -1;

    /// <summary>Cancelled when a stop is requested: for waits and loops that have no steps.</summary>
    public CancellationToken Token => _source.Token;

    public bool IsRequested => Volatile.Read(ref _reason) >= 0;

    public StopReason? Reason => IsRequested ? (StopReason)Volatile.Read(ref _reason) : null;

    /// <summary>Human words for the log and the failed event.</summary>
    public string? Detail { get; private set; }

    /// <summary>Retrying helps after preemption, not after a user's cancel.</summary>
    public bool Retryable => Reason == StopReason.Preempted;

    public void Request(StopReason reason, string detail)
    {
        if (Interlocked.CompareExchange(ref _reason, (int)reason, -1) != -1) return;
        Detail = detail;
        try
        {
            _source.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // the job already finished
        }
    }

    public void Dispose() => _source.Dispose();
}
