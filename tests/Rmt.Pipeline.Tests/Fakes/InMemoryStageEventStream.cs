using Rmt.Cloud;
using Rmt.Contracts;

namespace Rmt.Pipeline.Tests.Fakes;

/// <summary>IStageEventStream over per-run lists of JSON messages, with the contract of the queue
/// implementation: a drain orders by (stage, attempt, sequence) without duplicates, hands the events to
/// persist, and removes them only after persist returned; malformed messages are dead-lettered.</summary>
public sealed class InMemoryStageEventStream : IStageEventStream
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, List<string>> _pending = new(StringComparer.Ordinal);
    private int _drains;

    public List<string> DeadLetters { get; } = [];

    /// <summary>Number of drains so far (a fake trainer waits on it to publish across drains).</summary>
    public int Drains => Volatile.Read(ref _drains);

    public Task PublishAsync(StageEvent stageEvent, CancellationToken ct = default)
    {
        stageEvent.Validate();
        PublishRaw(stageEvent.RunId, RmtJson.Serialize(stageEvent));
        return Task.CompletedTask;
    }

    public void PublishRaw(string runId, string json)
    {
        lock (_lock)
        {
            if (!_pending.TryGetValue(runId, out var list)) _pending[runId] = list = [];
            list.Add(json);
        }
    }

    public async Task<IReadOnlyList<StageEvent>> DrainAsync(
        string runId, Func<IReadOnlyList<StageEvent>, Task> persist, int maxEvents = 256, CancellationToken ct = default)
    {
        List<string> taken;
        lock (_lock)
            taken = _pending.TryGetValue(runId, out var list) ? list.Take(maxEvents).ToList() : [];

        var events = new List<StageEvent>();
        var malformed = new List<string>();
        foreach (var json in taken)
        {
            try
            {
                events.Add(RmtJson.ParseEvent(json, $"stage event of run {runId}"));
            }
            catch (ContractException e)
            {
                malformed.Add($"{e.Message}: {json}");
            }
        }
        var ordered = events.DistinctBy(e => e.MessageId).OrderBy(e => e.Stage, StringComparer.Ordinal)
            .ThenBy(e => e.Attempt).ThenBy(e => e.Sequence).ToList();

        await persist(ordered);

        lock (_lock)
        {
            if (_pending.TryGetValue(runId, out var list))
                list.RemoveRange(0, taken.Count); // publishers only append, so the taken ones are still first
            DeadLetters.AddRange(malformed);
        }
        Interlocked.Increment(ref _drains);
        return ordered;
    }
}
