using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;
using Rmt.Contracts;

namespace Rmt.Pipeline;

/// <summary>One RMT pipeline run (durable name <see cref="PipelineNames.PipelineOrchestrator"/>,
/// instance id = run id): validate the request (writes runs/{runId}/request.json) -> [pretrain, when
/// the request has no base checkpoint] -> mid-train -> evaluation -> math post-training from the
/// mid-training checkpoint -> evaluation -> report (runs/{runId}/report.md, manifest.json).
///
/// Each stage is a <see cref="StageOrchestrator"/> sub-orchestration. A "cancel" event raised on this
/// instance is forwarded to the running stage, later stages are skipped, the report is written and the
/// run completes with status "cancelled". A failed stage ends the run: the report is written, then the
/// orchestration fails with the stage's reason. Deterministic: no clock, I/O or randomness here.</summary>
public sealed class PipelineOrchestrator : TaskOrchestrator<PipelineInput, PipelineOutput>
{
    public override async Task<PipelineOutput> RunAsync(TaskOrchestrationContext context, PipelineInput input)
    {
        var log = context.CreateReplaySafeLogger<PipelineOrchestrator>();
        var run = new RunContext(context, input, context.WaitForExternalEvent<string?>(PipelineNames.CancelEvent), context.CurrentUtcDateTime);
        var request = input.Request;

        SetStatus(context, input.RunId, Phases.Validating, message: "validating the request");
        var validation = await context.CallActivityAsync<ValidateRequestResult>(
            PipelineNames.ValidateRequestActivity, new ValidateRequestInput(input.RunId, request, input.TraceParent), ActivityOptions.For(input.Monitor));
        if (!validation.Valid)
            return await FinishAsync(run, Outcomes.Failed, $"the request is invalid: {validation.Error}");

        var baseCheckpoint = request.BaseCheckpoint;
        if (baseCheckpoint is null)
        {
            var pretrain = await RunStageAsync(run, StagePlan.Pretrain(input.RunId, request, input.TraceParent));
            if (Stopped(run, pretrain, needsCheckpoint: true) is { } stop) return await FinishAsync(run, stop.Status, stop.Reason);
            baseCheckpoint = pretrain.Result!.Checkpoint!.Uri;
        }

        var midTrain = await RunStageAsync(run, StagePlan.MidTrain(input.RunId, request, baseCheckpoint, input.TraceParent));
        if (Stopped(run, midTrain, needsCheckpoint: true) is { } midStop) return await FinishAsync(run, midStop.Status, midStop.Reason);
        var midCheckpoint = midTrain.Result!.Checkpoint!.Uri;

        var midEval = await RunStageAsync(run, StagePlan.MidTrainEval(input.RunId, request, midCheckpoint, input.TraceParent));
        if (Stopped(run, midEval, needsCheckpoint: false) is { } midEvalStop) return await FinishAsync(run, midEvalStop.Status, midEvalStop.Reason);

        var postTrain = await RunStageAsync(run, StagePlan.PostTrain(input.RunId, request, midCheckpoint, input.TraceParent));
        if (Stopped(run, postTrain, needsCheckpoint: true) is { } postStop) return await FinishAsync(run, postStop.Status, postStop.Reason);

        var postEval = await RunStageAsync(run, StagePlan.PostTrainEval(input.RunId, request, postTrain.Result!.Checkpoint!.Uri, input.TraceParent));
        if (Stopped(run, postEval, needsCheckpoint: false) is { } postEvalStop) return await FinishAsync(run, postEvalStop.Status, postEvalStop.Reason);

        log.LogInformation("Run {RunId}: all stages completed", input.RunId);
        return await FinishAsync(run, Outcomes.Completed, null);
    }

    /// <summary>The per-run values the steps share (kept out of fields: an orchestrator instance may be reused).</summary>
    private sealed record RunContext(TaskOrchestrationContext Context, PipelineInput Input, Task<string?> Cancel, DateTime StartedAt)
    {
        public List<StageOutcome> Stages { get; } = [];
    }

    private static async Task<StageOutcome> RunStageAsync(RunContext run, StageJob job)
    {
        var context = run.Context;
        if (run.Cancel.IsCompleted)
        {
            var skipped = new StageOutcome(job.Stage, job.Kind, Outcomes.Skipped, 0, Reason: "the run was cancelled before this stage");
            run.Stages.Add(skipped);
            return skipped;
        }

        // A fresh id per execution: a resubmitted run id never collides with an earlier run's stage instance.
        var instanceId = $"{run.Input.RunId}:{job.Stage}:{context.NewGuid():N}";
        SetStatus(context, run.Input.RunId, Phases.Running, job.Stage, job.Kind, instanceId, $"stage '{job.Stage}' started");
        var stage = context.CallSubOrchestratorAsync<StageOutcome>(
            PipelineNames.StageOrchestrator, new StageInput(job, run.Input.Monitor), new SubOrchestrationOptions(new TaskOptions(), instanceId));

        if (await Task.WhenAny(stage, run.Cancel) == run.Cancel && !stage.IsCompleted)
            context.SendEvent(instanceId, PipelineNames.CancelEvent, run.Cancel.Result ?? "cancel requested");

        StageOutcome outcome;
        try
        {
            outcome = await stage;
        }
        catch (TaskFailedException e)
        {
            // Only an activity that kept failing (storage down) gets here; the stage itself returns its failures.
            outcome = new StageOutcome(job.Stage, job.Kind, Outcomes.Failed, 0,
                Reason: $"stage '{job.Stage}' orchestration failed: {e.FailureDetails?.ErrorMessage ?? e.Message}");
        }
        run.Stages.Add(outcome);
        return outcome;
    }

    /// <summary>Why the run stops after this stage, or null when it goes on.</summary>
    private static (string Status, string Reason)? Stopped(RunContext run, StageOutcome outcome, bool needsCheckpoint)
    {
        if (outcome.Status is Outcomes.Cancelled or Outcomes.Skipped)
            return (Outcomes.Cancelled, outcome.Reason ?? $"cancelled during stage '{outcome.Stage}'");
        if (outcome.Status != Outcomes.Completed)
            return (Outcomes.Failed, outcome.Reason ?? $"stage '{outcome.Stage}' failed");
        if (needsCheckpoint && outcome.Result?.Checkpoint is null)
            return (Outcomes.Failed, $"stage '{outcome.Stage}' completed without a checkpoint in its result; the next stage has nothing to start from");
        return run.Cancel.IsCompleted ? (Outcomes.Cancelled, $"cancelled after stage '{outcome.Stage}': {run.Cancel.Result ?? "cancel requested"}") : null;
    }

    private static async Task<PipelineOutput> FinishAsync(RunContext run, string status, string? reason)
    {
        var (context, input) = (run.Context, run.Input);
        SetStatus(context, input.RunId, Phases.Reporting, message: "writing the report");
        var report = await context.CallActivityAsync<ReportResult>(
            PipelineNames.WriteReportActivity,
            new ReportInput(input.RunId, status, run.Stages, run.StartedAt, context.CurrentUtcDateTime, reason, input.TraceParent),
            ActivityOptions.For(input.Monitor));
        var output = new PipelineOutput(input.RunId, status, run.Stages, report.ReportUri, report.ManifestUri, reason);
        SetStatus(context, input.RunId, status, message: reason ?? $"report: {report.ReportUri}");
        if (status == Outcomes.Failed)
            throw new PipelineFailedException($"run '{input.RunId}' failed: {reason} (report: {report.ReportUri})");
        return output;
    }

    private static void SetStatus(TaskOrchestrationContext context, string runId, string phase, string? stage = null, StageKind? kind = null,
        string? stageInstanceId = null, string? message = null) =>
        context.SetCustomStatus(new PipelineCustomStatus(runId, phase, stage, kind, StageInstanceId: stageInstanceId, Message: message,
            UpdatedAt: context.CurrentUtcDateTime));
}

/// <summary>A pipeline run failed; the message names the stage, every attempt's failure and the report.</summary>
public sealed class PipelineFailedException : Exception
{
    public PipelineFailedException(string message) : base(message) { }
    public PipelineFailedException(string message, Exception inner) : base(message, inner) { }
    public PipelineFailedException() { }
}
