namespace Rmt.Contracts;

/// <summary>How a job process ended. The values are its exit codes; the local job runner and the
/// Container Apps job read them (0 is the only success).</summary>
public enum JobExitCode
{
    /// <summary>The stage completed (or there was no job to take).</summary>
    Done = 0,

    /// <summary>The job message did not parse or validate; it was dead-lettered.</summary>
    InvalidJob = 2,

    /// <summary>Another process holds the claim for this run/stage/attempt; nothing was trained.</summary>
    ClaimedByOther = 3,

    /// <summary>The stage failed and a new attempt may succeed (storage, network, machine).</summary>
    FailedRetryable = 4,

    /// <summary>The stage failed and a retry will fail again (bad input, training error).</summary>
    FailedPermanent = 5,

    /// <summary>The orchestration gave this attempt up (its stop marker exists): nothing more was trained
    /// or saved, so it cannot race the attempt that superseded it.</summary>
    Superseded = 6,

    /// <summary>Stopped on SIGTERM, Ctrl+C or the cancel marker, after saving a checkpoint (128 + SIGINT).</summary>
    Cancelled = 130,
}
