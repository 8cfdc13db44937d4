using Rmt.Contracts;

namespace Rmt.Cloud;

/// <summary>The order every drain hands events on in.</summary>
public static class StageEventOrder
{
    /// <summary>Events in (stage, attempt, sequence) order, the first of each
    /// <see cref="StageEvent.MessageId"/> kept.</summary>
    public static IReadOnlyList<StageEvent> Ordered(IEnumerable<StageEvent> events) =>
        [.. events
            .DistinctBy(e => e.MessageId, StringComparer.Ordinal)
            .OrderBy(e => e.Stage, StringComparer.Ordinal)
            .ThenBy(e => e.Attempt)
            .ThenBy(e => e.Sequence)];
}
