using Rmt.Contracts;
using Rmt.Pipeline.Tests.Fakes;
using static Rmt.Pipeline.Tests.Fakes.FakeTrainer;

namespace Rmt.Pipeline.Tests;

public sealed class StageEventFolderTests
{
    private static readonly DateTime T0 = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    private static readonly StageJob Job = StagePlan.MidTrain("r1", PipelineTestHost.Request("r1"), "checkpoints/r1/pretrain/step-10", null);

    private static StageEvent P(long sequence, long step, int attempt = 1) =>
        Event(Job with { Attempt = attempt }, sequence, StageEventKind.Progress) with { Progress = Progress(step) };

    [Fact]
    public void Duplicates_within_and_across_folds_are_counted_once()
    {
        var fold = StageEventFolder.Fold(StageFold.Start(1), Job.Stage, [P(1, 1), P(1, 1), P(2, 2)], T0);
        fold = StageEventFolder.Fold(fold, Job.Stage, [P(2, 2), P(1, 1)], T0.AddSeconds(1));

        Assert.Equal(2, fold.Folded);
        Assert.Equal(3, fold.Duplicates);
        Assert.Equal(2, fold.ContiguousThrough);
        Assert.Equal(T0, fold.LastEventAt); // duplicates are no sign of life
    }

    [Fact]
    public void A_gap_that_never_fills_does_not_grow_the_state()
    {
        // Sequence 2 was a progress event whose publish failed: it never arrives.
        var fold = StageEventFolder.Fold(StageFold.Start(1), Job.Stage, [P(1, 1)], T0);
        for (var sequence = 3L; sequence <= 500; sequence++)
            fold = StageEventFolder.Fold(fold, Job.Stage, [P(sequence, sequence)], T0.AddSeconds(sequence));
        var late = StageEventFolder.Fold(fold, Job.Stage, [P(2, 2)], T0.AddSeconds(501));

        Assert.True(fold.SeenAbove.Count <= StageEventFolder.MaxSeenAbove, $"{fold.SeenAbove.Count} sequences kept above the gap");
        Assert.Equal(499, fold.Folded);
        Assert.Equal(500, fold.Progress!.Step);
        Assert.True(fold.HasSeen(499) && !fold.HasSeen(501));
        Assert.Equal((499, fold.Duplicates + 1), (late.Folded, late.Duplicates)); // the lost event, turning up late, changes nothing
    }

    [Fact]
    public void Reordered_events_fill_gaps_and_progress_follows_the_highest_sequence()
    {
        var fold = StageEventFolder.Fold(StageFold.Start(1), Job.Stage, [P(4, 40), P(1, 10)], T0);
        Assert.Equal(1L, fold.ContiguousThrough);
        Assert.Equal([4L], fold.SeenAbove);
        Assert.Equal(40, fold.Progress!.Step);

        fold = StageEventFolder.Fold(fold, Job.Stage, [P(3, 30), P(2, 20)], T0);

        Assert.Equal(4, fold.ContiguousThrough);
        Assert.Empty(fold.SeenAbove); // the carried state stays small once the gap is filled
        Assert.Equal(40, fold.Progress!.Step); // older progress does not roll back
        Assert.Equal(4, fold.Folded);
    }

    [Fact]
    public void Events_of_other_attempts_and_stages_are_ignored()
    {
        var otherStage = P(1, 1) with { Stage = "post-train" };
        var fold = StageEventFolder.Fold(StageFold.Start(2), Job.Stage, [P(1, 99, attempt: 1), Failed(Job, 2, retryable: false), otherStage], T0);

        Assert.Equal(0, fold.Folded);
        Assert.Equal(2, fold.OtherAttempts);
        Assert.Null(fold.Terminal);
        Assert.Null(fold.LastEventAt);
    }

    [Fact]
    public void Checkpoints_keep_the_highest_step_and_completed_wins_over_failed()
    {
        var saved = Event(Job, 2, StageEventKind.CheckpointSaved) with { Checkpoint = CheckpointOf(Job, 20) };
        var older = Event(Job, 3, StageEventKind.CheckpointSaved) with { Checkpoint = CheckpointOf(Job, 10) };
        var fold = StageEventFolder.Fold(StageFold.Start(1), Job.Stage, [Failed(Job, 1, retryable: true), saved, older], T0);
        Assert.Equal(20, fold.Checkpoint!.Step);
        Assert.Equal(StageEventKind.Failed, fold.Terminal!.Kind);

        fold = StageEventFolder.Fold(fold, Job.Stage, [Completed(Job, 4)], T0);

        Assert.Equal(StageEventKind.Completed, fold.Terminal!.Kind);
        Assert.Equal(StageDecision.Completed, StageEventFolder.Decide(fold, T0, T0, TimeSpan.FromMinutes(1)));
    }

    [Fact]
    public void Decide_times_out_only_after_silence_longer_than_the_timeout_since_dispatch_or_the_last_event()
    {
        var timeout = TimeSpan.FromMinutes(10);
        var empty = StageFold.Start(1);
        Assert.Equal(StageDecision.KeepWaiting, StageEventFolder.Decide(empty, T0, T0.AddMinutes(10), timeout));
        Assert.Equal(StageDecision.TimedOut, StageEventFolder.Decide(empty, T0, T0.AddMinutes(10.01), timeout));

        var heard = StageEventFolder.Fold(empty, Job.Stage, [P(1, 1)], T0.AddMinutes(8));
        Assert.Equal(StageDecision.KeepWaiting, StageEventFolder.Decide(heard, T0, T0.AddMinutes(17), timeout));
        Assert.Equal(StageDecision.TimedOut, StageEventFolder.Decide(heard, T0, T0.AddMinutes(18.5), timeout));
        Assert.StartsWith("attempt 1 timed out: no stage event for 10 min (after 1 events, last at step 1/10)",
            StageEventFolder.DescribeFailure(heard, StageDecision.TimedOut, timeout));
    }

    [Fact]
    public void Decide_calls_a_claimed_attempt_stale_after_the_heartbeat_timeout_but_never_counts_the_queue_wait()
    {
        var (timeout, heartbeat) = (TimeSpan.FromHours(24), TimeSpan.FromMinutes(5));
        var queued = StageFold.Start(1);
        Assert.Equal(StageDecision.KeepWaiting, StageEventFolder.Decide(queued, T0, T0.AddHours(3), timeout, heartbeat)); // waiting for a GPU

        var claimed = StageEventFolder.Fold(queued, Job.Stage, [Event(Job, 1, StageEventKind.Accepted)], T0.AddHours(3));
        Assert.Equal(StageDecision.KeepWaiting, StageEventFolder.Decide(claimed, T0, T0.AddHours(3).AddMinutes(5), timeout, heartbeat));
        var beating = StageEventFolder.Fold(claimed, Job.Stage, [Event(Job, 2, StageEventKind.Heartbeat)], T0.AddHours(3).AddMinutes(4));
        Assert.Equal(StageDecision.KeepWaiting, StageEventFolder.Decide(beating, T0, T0.AddHours(3).AddMinutes(8), timeout, heartbeat));
        Assert.Equal(StageDecision.Stale, StageEventFolder.Decide(beating, T0, T0.AddHours(3).AddMinutes(9.1), timeout, heartbeat));
        Assert.Equal(StageDecision.KeepWaiting, StageEventFolder.Decide(beating, T0, T0.AddHours(3).AddMinutes(9.1), timeout)); // no heartbeat timeout: as before
        Assert.StartsWith("attempt 1 went silent after it was claimed: no heartbeat or event for 5 min (after 2 events)",
            StageEventFolder.DescribeFailure(beating, StageDecision.Stale, timeout, heartbeat));
    }

    [Theory]
    [InlineData(true, StageDecision.FailedRetryable)]
    [InlineData(false, StageDecision.FailedFinal)]
    public void Decide_follows_the_failure_retryable_flag(bool retryable, StageDecision expected)
    {
        var fold = StageEventFolder.Fold(StageFold.Start(1), Job.Stage, [Failed(Job, 1, retryable, "boom")], T0);

        Assert.Equal(expected, StageEventFolder.Decide(fold, T0, T0, TimeSpan.FromMinutes(1)));
        Assert.Contains("boom", StageEventFolder.DescribeFailure(fold, expected, TimeSpan.FromMinutes(1)));
    }
}
