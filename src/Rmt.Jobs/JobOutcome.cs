using Rmt.Contracts;

namespace Rmt.Jobs;

/// <summary>The end of one job: its exit code, a one-line summary, and what it published.</summary>
public sealed record JobOutcome(
    JobExitCode ExitCode,
    string Summary,
    StageJob? Job = null,
    StageResult? Result = null,
    StageFailure? Failure = null,
    long? ResumedFromStep = null)
{
    public int ProcessExitCode => (int)ExitCode;
}
