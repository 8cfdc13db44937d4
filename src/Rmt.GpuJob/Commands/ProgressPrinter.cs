using System.Diagnostics;
using System.Globalization;
using System.Text;
using Rmt.Contracts;

namespace Rmt.GpuJob.Commands;

/// <summary>Shows training progress to a person: a bar redrawn in place on a terminal, one line per
/// update when the output is a file or a pipe (container logs).</summary>
public sealed class ProgressPrinter
{
    private const int BarWidth = 24;
    private readonly TextWriter _out;
    private readonly bool _interactive;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _firstStep = -1;
    private bool _open;
    private int _lastWidth;

    public ProgressPrinter(TextWriter output, bool interactive)
    {
        _out = output;
        _interactive = interactive;
    }

    /// <summary>Progress events draw the bar; other events end it and print a line.</summary>
    public void OnEvent(StageEvent stageEvent)
    {
        if (stageEvent.Kind == StageEventKind.Progress && stageEvent.Progress is { } progress)
        {
            Draw(progress);
            return;
        }
        if (stageEvent.Kind == StageEventKind.Heartbeat) return; // for the orchestration; a line a minute would bury the bar
        var text = stageEvent.Kind switch
        {
            StageEventKind.CheckpointSaved => $"checkpoint step {stageEvent.Checkpoint!.Step} -> {stageEvent.Checkpoint.Uri}",
            StageEventKind.Failed => $"failed ({Name(stageEvent.Failure!.Kind)}, retryable {stageEvent.Failure.Retryable.ToString().ToLowerInvariant()}): {stageEvent.Failure.Message}",
            StageEventKind.Completed => $"completed: {stageEvent.Message}",
            _ => $"{Name(stageEvent.Kind)}: {stageEvent.Message}",
        };
        Line(text);
    }

    public void Draw(StageProgress progress)
    {
        if (_firstStep < 0)
        {
            _firstStep = progress.Step;
            _clock.Restart();
        }
        var text = Format(progress, EstimateRemaining(progress));
        lock (_out)
        {
            if (_interactive)
            {
                _out.Write("\r" + text.PadRight(Math.Max(text.Length, _lastWidth)));
                _lastWidth = text.Length;
                _open = true;
            }
            else
            {
                _out.WriteLine(text);
            }
            _out.Flush();
        }
    }

    public void Line(string text)
    {
        lock (_out)
        {
            if (_open) _out.WriteLine();
            _open = false;
            _out.WriteLine(text);
            _out.Flush();
        }
    }

    /// <summary>"[#######.........]  30/100  loss 2.3100  reward 0.412  12,345 tok/s  eta 0:01:10"</summary>
    public static string Format(StageProgress progress, TimeSpan? remaining)
    {
        var total = Math.Max(1, progress.TotalSteps);
        var filled = (int)Math.Clamp(progress.Step * BarWidth / total, 0, BarWidth);
        var text = new StringBuilder()
            .Append('[').Append('#', filled).Append('.', BarWidth - filled).Append("] ")
            .Append(CultureInfo.InvariantCulture, $"{progress.Step}/{progress.TotalSteps}");
        if (progress.Loss is { } loss) text.Append(CultureInfo.InvariantCulture, $"  loss {loss:F4}");
        if (progress.Reward is { } reward) text.Append(CultureInfo.InvariantCulture, $"  reward {reward:F3}");
        if (progress.Accuracy is { } accuracy) text.Append(CultureInfo.InvariantCulture, $"  acc {accuracy:F3}");
        if (progress.Budget is { } budget) text.Append(CultureInfo.InvariantCulture, $"  budget {budget:F0}");
        if (progress.ReasoningLength is { } length) text.Append(CultureInfo.InvariantCulture, $"  think {length:F1}");
        if (progress.TokensPerSecond is { } speed) text.Append(CultureInfo.InvariantCulture, $"  {speed:N0} tok/s");
        if (remaining is { } eta) text.Append(CultureInfo.InvariantCulture, $"  eta {eta:h\\:mm\\:ss}");
        return text.ToString();
    }

    private TimeSpan? EstimateRemaining(StageProgress progress)
    {
        var done = progress.Step - _firstStep;
        if (done <= 0 || progress.Step >= progress.TotalSteps) return null;
        var perStep = _clock.Elapsed / done;
        return perStep * (progress.TotalSteps - progress.Step);
    }

    private static string Name(StageEventKind kind) => kind switch
    {
        StageEventKind.Accepted => "accepted",
        StageEventKind.Started => "started",
        StageEventKind.Progress => "progress",
        StageEventKind.CheckpointSaved => "checkpoint-saved",
        StageEventKind.Completed => "completed",
        StageEventKind.Heartbeat => "heartbeat",
        _ => "failed",
    };

    private static string Name(FailureKind kind) => kind switch
    {
        FailureKind.InvalidInput => "invalid-input",
        FailureKind.Infrastructure => "infrastructure",
        FailureKind.Training => "training",
        FailureKind.Cancelled => "cancelled",
        _ => "timeout",
    };
}
