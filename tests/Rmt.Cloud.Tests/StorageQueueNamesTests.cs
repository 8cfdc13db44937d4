namespace Rmt.Cloud.Tests;

public sealed class StorageQueueNamesTests
{
    [Theory]
    [InlineData("run-1", "rmt-events-run-1")]
    [InlineData("0123456789012345678901234567890123456789", "rmt-events-0123456789012345678901234567890123456789")]
    public void Valid_run_id_is_used_as_it_is(string runId, string expected) =>
        Assert.Equal(expected, StorageQueueNames.ForRun("rmt-events", runId));

    [Theory]
    [InlineData("run--1")]
    [InlineData("run-")]
    [InlineData("Run_With.Odd Chars")]
    [InlineData("a-run-id-that-is-much-longer-than-the-queue-name-limit-allows-for-sure")]
    [InlineData("---")]
    public void Other_run_ids_are_sanitized_into_valid_distinct_names(string runId)
    {
        var name = StorageQueueNames.ForRun("rmt-events", runId);

        Assert.True(StorageQueueNames.IsValid(name), name);
        Assert.True(StorageQueueNames.IsValid(StorageQueueNames.Poison(name)), name);
        Assert.InRange(name.Length, 3, StorageQueueNames.MaxBaseLength);
        Assert.StartsWith("rmt-events-", name, StringComparison.Ordinal);
        Assert.NotEqual(name, StorageQueueNames.ForRun("rmt-events", runId + "x"));
    }

    [Fact]
    public void Run_ids_that_sanitize_alike_keep_distinct_queues() =>
        Assert.NotEqual(StorageQueueNames.ForRun("rmt-events", "run--1"), StorageQueueNames.ForRun("rmt-events", "run---1"));
}
