using Microsoft.Extensions.Logging;
using Rmt.Cloud;
using Rmt.Contracts;

namespace Rmt.Jobs.Attempts;

/// <summary>The blobs that stop an attempt from outside: the run's cancel marker (a user cancelled) and
/// the attempt's stop marker (the orchestration gave the attempt up). Either one requests a stop on the
/// attempt's <see cref="JobStopSignal"/>; <see cref="WatchAsync"/> checks them while the stage runs.</summary>
internal sealed class AttemptMarkers(IArtifactStore store, StageJob job, JobStopSignal stop, TimeSpan pollInterval, TimeProvider time, ILogger logger)
{
    /// <summary>Both markers; throws <see cref="OperationCanceledException"/> when a stop is requested.</summary>
    public async Task CheckAsync(CancellationToken ct)
    {
        var marker = BlobLayout.CancelMarker(job.RunId);
        var text = await store.ReadTextAsync(marker, ct);
        if (text is not null)
            stop.Request(StopReason.UserCancel, $"the run was cancelled ({marker}{(string.IsNullOrWhiteSpace(text) ? "" : ": " + text.Trim())})");
        await IsSupersededAsync(ct);
        stop.Token.ThrowIfCancellationRequested();
    }

    /// <summary>Whether the orchestration gave this attempt up (requests a Superseded stop if so).</summary>
    public async Task<bool> IsSupersededAsync(CancellationToken ct)
    {
        var marker = BlobLayout.AttemptStopMarker(job.RunId, job.Stage, job.Attempt);
        var text = await store.ReadTextAsync(marker, ct);
        if (text is null) return false;
        stop.Request(StopReason.Superseded, $"the orchestration gave attempt {job.Attempt} up ({marker}: {text.Trim()})");
        return stop.Reason == StopReason.Superseded;
    }

    /// <summary>Checks the markers every poll interval until a stop is requested or <paramref name="ct"/> ends the watch.</summary>
    public async Task WatchAsync(CancellationToken ct)
    {
        try
        {
            while (!stop.IsRequested)
            {
                await Task.Delay(pollInterval, time, ct);
                try
                {
                    await CheckAsync(ct);
                }
                catch (OperationCanceledException)
                {
                    throw;
                }
                catch (Exception e)
                {
                    logger.LogWarning("could not check the cancel marker ({Error}); trying again", FailureClassifier.Describe(e));
                }
            }
        }
        catch (OperationCanceledException)
        {
            // the stage ended, or a stop was requested: either way the watch is over
        }
    }
}
