using Rmt.Contracts;

namespace Rmt.Pipeline;

/// <summary>What the monitor knows about the running attempt of one stage. Small and bounded: the
/// sequence numbers seen are kept as a high-water mark plus the few seen above a gap, so the state
/// that ContinueAsNew carries does not grow with the number of events.</summary>
public sealed record StageFold(
    int Attempt,
    long ContiguousThrough,                 // every sequence 1..ContiguousThrough of this attempt has been folded
    IReadOnlyList<long> SeenAbove,          // folded sequences above ContiguousThrough, ascending (reordering gaps)
    int Folded,                             // distinct events of this attempt
    int Duplicates,                         // repeated (attempt, sequence) pairs, ignored
    int OtherAttempts,                      // events of earlier (or stray) attempts, ignored
    long ProgressSequence,                  // sequence of the event that gave Progress
    StageProgress? Progress,
    CheckpointRef? Checkpoint,              // newest checkpoint announced by this attempt
    StageEvent? Terminal,                   // completed or failed, once seen
    DateTime? LastEventAt)                  // orchestration time of the newest distinct event
{
    public static StageFold Start(int attempt) => new(attempt, 0, [], 0, 0, 0, 0, null, null, null, null);

    public bool HasSeen(long sequence) => sequence <= ContiguousThrough || SeenAbove.Contains(sequence);
}

/// <summary>What the stage orchestrator does after a poll.</summary>
public enum StageDecision
{
    KeepWaiting,
    Completed,
    /// <summary>The attempt failed and said a retry may help.</summary>
    FailedRetryable,
    /// <summary>The attempt failed and said retrying does not help.</summary>
    FailedFinal,
    /// <summary>No event of the attempt for longer than the stage timeout.</summary>
    TimedOut,
    /// <summary>The attempt spoke (its job claimed it), then sent nothing, not even a heartbeat, for
    /// longer than the heartbeat timeout: the job died or hangs.</summary>
    Stale,
}

/// <summary>Folds stage events into a <see cref="StageFold"/>: pure, deterministic, replay-safe.
/// Tolerates what the transports do: duplicates (same attempt and sequence), reordering within and
/// across drains, and late events of earlier attempts (a zombie job), which are ignored.</summary>
public static class StageEventFolder
{
    /// <summary>Most sequences kept above a gap. A gap that stays open this long is a lost event (a
    /// progress publish that failed still used its number), not reordering: the fold then gives the gap
    /// up, so the state carried by ContinueAsNew stays bounded however long the stage runs. An event of
    /// a given-up gap that turns up later is counted as a duplicate (it is older than what was folded).</summary>
    public const int MaxSeenAbove = 64;

    /// <param name="now">Orchestration time of the poll (context.CurrentUtcDateTime), never the event's own
    /// clock: timeouts are judged on the orchestrator's clock.</param>
    public static StageFold Fold(StageFold fold, string stage, IEnumerable<StageEvent> events, DateTime now)
    {
        var ordered = events.Where(e => e.Stage == stage).OrderBy(e => e.Attempt).ThenBy(e => e.Sequence).ToList();
        var contiguous = fold.ContiguousThrough;
        var above = new SortedSet<long>(fold.SeenAbove);
        var (folded, duplicates, others) = (fold.Folded, fold.Duplicates, fold.OtherAttempts);
        var (progressSequence, progress, checkpoint, terminal, lastEventAt) =
            (fold.ProgressSequence, fold.Progress, fold.Checkpoint, fold.Terminal, fold.LastEventAt);

        foreach (var e in ordered)
        {
            if (e.Attempt != fold.Attempt)
            {
                others++;
                continue;
            }
            if (e.Sequence <= contiguous || above.Contains(e.Sequence))
            {
                duplicates++;
                continue;
            }

            above.Add(e.Sequence);
            while (above.Remove(contiguous + 1)) contiguous++;
            while (above.Count > MaxSeenAbove)
            {
                contiguous = above.Min; // give the oldest gap up
                while (above.Remove(contiguous)) contiguous++;
                contiguous--;
            }
            folded++;
            lastEventAt = now;

            if (e.Progress is not null && e.Sequence > progressSequence)
                (progressSequence, progress) = (e.Sequence, e.Progress);
            var announced = e.Checkpoint ?? e.Result?.Checkpoint;
            if (announced is not null && (checkpoint is null || announced.Step >= checkpoint.Step))
                checkpoint = announced;
            // One terminal event per attempt is the contract; if a job ever sends both, completed wins
            // (its checkpoint exists), and otherwise the first one folded stays.
            if (e.IsTerminal && (terminal is null || (terminal.Kind == StageEventKind.Failed && e.Kind == StageEventKind.Completed)))
                terminal = e;
        }

        return fold with
        {
            ContiguousThrough = contiguous,
            SeenAbove = above.ToList(),
            Folded = folded,
            Duplicates = duplicates,
            OtherAttempts = others,
            ProgressSequence = progressSequence,
            Progress = progress,
            Checkpoint = checkpoint,
            Terminal = terminal,
            LastEventAt = lastEventAt,
        };
    }

    /// <summary>Decides after a poll. The attempt is timed out when neither its dispatch nor any of its
    /// events happened within <paramref name="timeout"/> of <paramref name="now"/>. Once the attempt has
    /// spoken (its job claimed it and sends events and heartbeats), silence longer than
    /// <paramref name="heartbeatTimeout"/> makes it stale; the wait in the queue before that (a GPU may
    /// take long to start) is judged by <paramref name="timeout"/> only.</summary>
    public static StageDecision Decide(StageFold fold, DateTime attemptStartedAt, DateTime now, TimeSpan timeout, TimeSpan? heartbeatTimeout = null)
    {
        if (fold.Terminal is { } terminal)
            return terminal.Kind == StageEventKind.Completed ? StageDecision.Completed
                : terminal.Failure?.Retryable == true ? StageDecision.FailedRetryable
                : StageDecision.FailedFinal;
        var spoke = fold.LastEventAt is not null; // the fold starts empty at each dispatch: only this attempt's events count
        var lastSign = fold.LastEventAt is { } last && last > attemptStartedAt ? last : attemptStartedAt;
        if (now - lastSign > timeout) return StageDecision.TimedOut;
        return spoke && heartbeatTimeout is { } stale && now - lastSign > stale ? StageDecision.Stale : StageDecision.KeepWaiting;
    }

    /// <summary>One line that says why an attempt ended, for logs, status and the final reason.</summary>
    public static string DescribeFailure(StageFold fold, StageDecision decision, TimeSpan timeout, TimeSpan? heartbeatTimeout = null) => decision switch
    {
        StageDecision.Stale =>
            $"attempt {fold.Attempt} went silent after it was claimed: no heartbeat or event for {Describe(heartbeatTimeout ?? timeout)} (after {fold.Folded} events" +
            (fold.Progress is { } p0 ? $", last at step {p0.Step}/{p0.TotalSteps})" : ")"),
        StageDecision.TimedOut =>
            $"attempt {fold.Attempt} timed out: no stage event for {Describe(timeout)} (after {fold.Folded} events" +
            (fold.Progress is { } p ? $", last at step {p.Step}/{p.TotalSteps})" : ")"),
        StageDecision.FailedRetryable or StageDecision.FailedFinal when fold.Terminal?.Failure is { } f =>
            $"attempt {fold.Attempt} failed ({KindName(f.Kind)}{(f.Retryable ? ", retryable" : ", not retryable")}): {f.Message}",
        _ => $"attempt {fold.Attempt} ended with {decision}",
    };

    private static string KindName(FailureKind kind) => kind switch
    {
        FailureKind.InvalidInput => "invalid-input",
        FailureKind.Infrastructure => "infrastructure",
        FailureKind.Training => "training",
        FailureKind.Cancelled => "cancelled",
        FailureKind.Timeout => "timeout",
        _ => kind.ToString(),
    };

    private static string Describe(TimeSpan t) =>
        t.TotalMinutes >= 1 ? $"{t.TotalMinutes:0.#} min" : t.TotalSeconds >= 1 ? $"{t.TotalSeconds:0.#} s" : $"{t.TotalMilliseconds:0} ms";
}
