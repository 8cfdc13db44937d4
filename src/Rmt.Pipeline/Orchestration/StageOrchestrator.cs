using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;
using Rmt.Contracts;

namespace Rmt.Pipeline;

/// <summary>Runs one stage job to its end (durable name <see cref="PipelineNames.StageOrchestrator"/>).
///
/// For attempt 1..MaxAttempts: dispatch the job (idempotent: see <see cref="DispatchJobActivity"/>), then follow it with the
/// monitor pattern: { drain the run's new stage events (the activity appends them to
/// runs/{runId}/events.jsonl before they leave the transport); fold them; publish progress as custom
/// status; durable timer }. A completed event ends the stage. A retryable failure, silence for longer
/// than the stage timeout (which covers the wait in the queue), or an attempt whose job claimed it and then
/// sent no event or heartbeat for the heartbeat timeout (minutes: the job died or hangs) starts the next attempt, which resumes from the stage's newest checkpoint on
/// its own. A non-retryable failure or the last attempt ends the stage as failed with the reasons of
/// every attempt. An attempt preempted by SIGTERM (a retryable 'cancelled' failure, after its checkpoint)
/// is resumed without counting against MaxAttempts, up to <see cref="MaxPreemptions"/> times. A "cancel" event (or a cancel marker in Blob) writes the marker, which the job obeys,
/// and ends the stage as cancelled. Every attempt given up (failed, timed out, cancelled) gets its stop
/// marker (<see cref="StopAttemptActivity"/>) before anything else happens, so a silent attempt that is
/// still alive, or still queued, stops without saving instead of racing the next attempt. After MaxPollsPerGeneration polls the orchestration continues as
/// new with its state, so its history stays bounded however long training takes.
///
/// Deterministic: time comes from context.CurrentUtcDateTime, waiting from durable timers, all I/O from
/// activities. Always returns a <see cref="StageOutcome"/>; it throws only when an activity keeps failing.</summary>
public sealed class StageOrchestrator : TaskOrchestrator<StageInput, StageOutcome>
{
    public override async Task<StageOutcome> RunAsync(TaskOrchestrationContext context, StageInput input)
    {
        var job = input.Job;
        var monitor = input.Monitor;
        var log = context.CreateReplaySafeLogger<StageOrchestrator>();
        var activityOptions = ActivityOptions.For(monitor);
        var state = input.Carried ?? new StageRunState(
            Try: 1, Attempt: job.Attempt, Dispatched: false, AttemptStartedAt: context.CurrentUtcDateTime, Fold: StageFold.Start(job.Attempt),
            Generation: 0, AttemptFailures: []);

        for (var polls = 0; ; polls++)
        {
            if (!state.Dispatched)
            {
                SetStatus(context, input, state, $"dispatching attempt {state.Try}");
                var dispatchId = state.Preemptions == 0 ? $"{context.InstanceId}#{state.Try}" : $"{context.InstanceId}#{state.Try}p{state.Preemptions}";
                var dispatched = await context.CallActivityAsync<DispatchResult>(PipelineNames.DispatchJobActivity,
                    new DispatchInput(job with { Attempt = state.Attempt }, dispatchId), activityOptions);
                state = state with
                {
                    Attempt = dispatched.Attempt, Dispatched = true, AttemptStartedAt = context.CurrentUtcDateTime,
                    Fold = StageFold.Start(dispatched.Attempt) with { Progress = state.Fold.Progress, Checkpoint = state.Fold.Checkpoint },
                };
                log.LogInformation("Stage {Stage} of run {RunId}: attempt {Try}/{MaxAttempts} dispatched as job {MessageId}",
                    job.Stage, job.RunId, state.Try, monitor.MaxAttempts, dispatched.MessageId);
            }

            var drained = await context.CallActivityAsync<DrainResult>(
                PipelineNames.DrainEventsActivity, new DrainInput(job.RunId, job.Stage, job.TraceParent), activityOptions);
            if (drained.CancelRequested)
                return await CancelAsync(context, input, state, "a cancel marker was written for the run");

            var now = context.CurrentUtcDateTime;
            state = state with { Fold = StageEventFolder.Fold(state.Fold, job.Stage, drained.Events, now) };
            var decision = StageEventFolder.Decide(state.Fold, state.AttemptStartedAt, now, monitor.StageTimeout, monitor.HeartbeatTimeout);
            switch (decision)
            {
                case StageDecision.Completed:
                    var result = state.Fold.Terminal!.Result;
                    SetStatus(context, input, state, "completed", Outcomes.Completed);
                    log.LogInformation("Stage {Stage} of run {RunId} completed on attempt {Try}", job.Stage, job.RunId, state.Try);
                    return new StageOutcome(job.Stage, job.Kind, Outcomes.Completed, state.Try, result, state.Fold.Progress);

                case StageDecision.FailedRetryable or StageDecision.FailedFinal or StageDecision.TimedOut or StageDecision.Stale:
                    var failure = StageEventFolder.DescribeFailure(state.Fold, decision, monitor.StageTimeout, monitor.HeartbeatTimeout);
                    var failures = state.AttemptFailures.Append(failure).ToList();
                    log.LogWarning("Stage {Stage} of run {RunId}: {Failure}", job.Stage, job.RunId, failure);
                    // A silent attempt may still be alive (or still queued): it must stop before the next one starts.
                    await StopAttemptAsync(context, input, state.Attempt, failure);
                    if (IsPreemption(state.Fold) && state.Preemptions < MaxPreemptions)
                    {
                        // SIGTERM took the machine back after a checkpoint: not the stage's fault, so the
                        // next attempt resumes without using up one of MaxAttempts (bounded by MaxPreemptions).
                        log.LogWarning("Stage {Stage} of run {RunId}: attempt {Attempt} was preempted; resuming without counting it", job.Stage, job.RunId, state.Attempt);
                        state = state with { Attempt = state.Attempt + 1, Dispatched = false, AttemptStartedAt = now, Preemptions = state.Preemptions + 1 };
                        continue;
                    }
                    if (decision == StageDecision.FailedFinal || state.Try >= monitor.MaxAttempts)
                    {
                        var why = decision == StageDecision.FailedFinal
                            ? "the failure is not retryable"
                            : $"all {monitor.MaxAttempts} attempts were used";
                        var reason = $"stage '{job.Stage}' failed: {why}; {string.Join("; ", failures)}";
                        SetStatus(context, input, state with { AttemptFailures = failures }, reason, Outcomes.Failed);
                        return new StageOutcome(job.Stage, job.Kind, Outcomes.Failed, state.Try, null, state.Fold.Progress, reason);
                    }
                    // The next try resumes from the stage's newest checkpoint (the job finds it itself). Progress
                    // and checkpoint of this try stay visible until the next one reports.
                    state = state with { Try = state.Try + 1, Attempt = state.Attempt + 1, Dispatched = false, AttemptStartedAt = now, AttemptFailures = failures };
                    continue; // dispatch the next attempt right away

                default:
                    SetStatus(context, input, state,
                        $"attempt {state.Try}/{monitor.MaxAttempts} (job attempt {state.Attempt}): {state.Fold.Folded} events");
                    break;
            }

            // The durable timer between polls doubles as the wait for a "cancel" event.
            try
            {
                var reason = await context.WaitForExternalEvent<string?>(PipelineNames.CancelEvent, monitor.PollInterval);
                return await CancelAsync(context, input, state, reason ?? "cancel requested");
            }
            catch (TaskCanceledException)
            {
                // no cancel within the poll interval: poll again
            }

            if (polls + 1 >= monitor.MaxPollsPerGeneration)
            {
                // Keeps history bounded; a cancel event that arrives meanwhile is carried over.
                context.ContinueAsNew(input with { Carried = state with { Generation = state.Generation + 1 } }, preserveUnprocessedEvents: true);
                return new StageOutcome(job.Stage, job.Kind, Phases.Running, state.Try);
            }
        }
    }

    private static async Task<StageOutcome> CancelAsync(TaskOrchestrationContext context, StageInput input, StageRunState state, string reason)
    {
        var job = input.Job;
        await context.CallActivityAsync<bool>(
            PipelineNames.WriteCancelMarkerActivity, new CancelMarkerInput(job.RunId, reason, job.TraceParent), ActivityOptions.For(input.Monitor));
        await StopAttemptAsync(context, input, state.Attempt, $"the run was cancelled: {reason}");
        var why = $"stage '{job.Stage}' was cancelled during attempt {state.Try}: {reason}";
        SetStatus(context, input, state, why, Outcomes.Cancelled);
        return new StageOutcome(job.Stage, job.Kind, Outcomes.Cancelled, state.Try, null, state.Fold.Progress, why);
    }

    /// <summary>Preemptions a stage may have on top of MaxAttempts: a machine that keeps being taken back
    /// still ends the stage eventually.</summary>
    public const int MaxPreemptions = 20;

    /// <summary>The attempt ended with a retryable 'cancelled' failure: SIGTERM (preemption, scale-in,
    /// replica timeout) after the job saved a checkpoint. A user's cancel is not retryable.</summary>
    private static bool IsPreemption(StageFold fold) =>
        fold.Terminal?.Failure is { Kind: FailureKind.Cancelled, Retryable: true };

    /// <summary>Writes the attempt's stop marker: the job of an attempt this orchestration gave up stops
    /// (or never starts) without saving a checkpoint.</summary>
    private static Task StopAttemptAsync(TaskOrchestrationContext context, StageInput input, int attempt, string reason) =>
        context.CallActivityAsync<bool>(PipelineNames.StopAttemptActivity,
            new StopAttemptInput(input.Job.RunId, input.Job.Stage, attempt, reason, input.Job.TraceParent), ActivityOptions.For(input.Monitor));

    private static void SetStatus(TaskOrchestrationContext context, StageInput input, StageRunState state, string? message, string phase = Phases.Running) =>
        context.SetCustomStatus(new PipelineCustomStatus(
            input.Job.RunId, phase, input.Job.Stage, input.Job.Kind, state.Try, input.Monitor.MaxAttempts,
            context.InstanceId, state.Fold.Progress, state.Fold.Checkpoint, message, context.CurrentUtcDateTime));
}

/// <summary>Retries of the pipeline's activities: a storage or Service Bus outage of a minute or two must
/// not fail a run whose GPU job keeps training. Capped exponential backoff, bounded in total: the first
/// retry after min(poll interval, 2 s), doubling to at most 30 s, <see cref="MaxAttempts"/> tries. In
/// production that waits 2+4+8+16+30+30+30 = 120 s before the activity's failure reaches the stage;
/// tests with a 50 ms poll interval ride out about 6 s.</summary>
internal static class ActivityOptions
{
    public const int MaxAttempts = 8;
    public static readonly TimeSpan MaxInterval = TimeSpan.FromSeconds(30);

    public static TaskOptions For(MonitorSettings monitor)
    {
        var first = monitor.PollInterval < TimeSpan.FromSeconds(2) ? monitor.PollInterval : TimeSpan.FromSeconds(2);
        return TaskOptions.FromRetryPolicy(new RetryPolicy(MaxAttempts, first, backoffCoefficient: 2.0, maxRetryInterval: MaxInterval));
    }

    /// <summary>How long the retries wait in all before giving up: the outage an activity survives.</summary>
    public static TimeSpan TotalWait(MonitorSettings monitor)
    {
        var policy = For(monitor).Retry!.Policy!;
        var total = TimeSpan.Zero;
        for (var retry = 0; retry < policy.MaxNumberOfAttempts - 1; retry++)
        {
            var delay = policy.FirstRetryInterval * Math.Pow(policy.BackoffCoefficient, retry);
            total += delay < policy.MaxRetryInterval ? delay : policy.MaxRetryInterval;
        }
        return total;
    }
}
