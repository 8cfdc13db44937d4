using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Rmt.Contracts;
using Rmt.Pipeline.Http;

namespace Rmt.Functions;

/// <summary>Scheduled retraining: on the CRON of RMT_SCHEDULE_CRON, submits the PipelineRequest in
/// RMT_SCHEDULE_REQUEST as run "sched-{utc time}", unless an earlier scheduled run (an instance id
/// starting "sched-") is still pending, running or suspended, so that slow runs never pile up.</summary>
public sealed class ScheduledRetraining(IConfiguration settings, ILogger<ScheduledRetraining> log, ILogger<PipelineHandlers> handlerLog)
{
    [Function("ScheduledRetraining")]
    public Task RunAsync(
        [TimerTrigger("%" + RmtSettings.ScheduleCron + "%")] TimerInfo timer,
        [DurableClient] DurableTaskClient client,
        CancellationToken ct) =>
        TickAsync(client, DateTime.UtcNow, ct);

    /// <summary>One tick of the schedule (the timer's body, callable from tests).</summary>
    public async Task<ScheduledSubmission> TickAsync(DurableTaskClient client, DateTime utcNow, CancellationToken ct = default)
    {
        var template = settings[RmtSettings.ScheduleRequest];
        if (string.IsNullOrWhiteSpace(template))
        {
            var why = $"{RmtSettings.ScheduleRequest} is not set; set it to the JSON of a pipeline request to retrain on schedule";
            log.LogWarning("Scheduled retraining skipped: {Reason}", why);
            return new ScheduledSubmission(false, null, why);
        }
        var submission = await new PipelineHandlers(client, handlerLog).SubmitScheduledAsync(template, utcNow, ct);
        if (submission.Started)
            log.LogInformation("Scheduled retraining started run {RunId}", submission.RunId);
        else
            log.LogInformation("Scheduled retraining skipped: {Reason}", submission.SkippedBecause);
        return submission;
    }
}
