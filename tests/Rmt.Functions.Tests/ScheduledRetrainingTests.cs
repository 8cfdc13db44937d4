using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Rmt.Contracts;
using Rmt.Pipeline.Http;

namespace Rmt.Functions.Tests;

/// <summary>The timer's body against a real durable backend: submit the template, skip while the
/// previous scheduled run goes on, refuse a bad template naming the setting.</summary>
[Collection(DurableHostCollection.Name)]
public sealed class ScheduledRetrainingTests(DurableHostFixture fixture)
{
    private const string Template =
        """{"datasets":{"midTrain":"datasets/demo/corpus.txt","postTrain":"datasets/demo/math.jsonl"},"options":{"pollSeconds":1}}""";

    private static ScheduledRetraining Timer(string? template) => new(
        new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [RmtSettings.ScheduleRequest] = template }).Build(),
        NullLogger<ScheduledRetraining>.Instance, NullLogger<PipelineHandlers>.Instance);

    [Fact]
    public async Task A_tick_starts_a_scheduled_run_and_the_next_tick_skips_while_it_goes_on()
    {
        var timer = Timer(Template);
        var now = new DateTime(2031, 5, 4, 3, 0, 0, DateTimeKind.Utc);

        var first = await timer.TickAsync(fixture.Host.Client, now);
        Assert.True(first.Started, first.SkippedBecause);
        Assert.Equal("sched-20310504-030000", first.RunId);

        var second = await timer.TickAsync(fixture.Host.Client, now.AddDays(7));
        Assert.False(second.Started);
        Assert.Contains("sched-20310504-030000", second.SkippedBecause, StringComparison.Ordinal);

        // Once the scheduled run has ended, the schedule starts the next one.
        await fixture.Host.Client.TerminateInstanceAsync(first.RunId!, "test");
        await fixture.Host.Client.WaitForInstanceCompletionAsync(first.RunId!, new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
        var third = await timer.TickAsync(fixture.Host.Client, now.AddDays(14));
        Assert.True(third.Started, third.SkippedBecause);
        await fixture.Host.Client.TerminateInstanceAsync(third.RunId!, "test");
    }

    [Fact]
    public async Task Without_a_request_template_the_tick_does_nothing_and_says_which_setting_is_missing()
    {
        var result = await Timer(null).TickAsync(fixture.Host.Client, DateTime.UtcNow);
        Assert.False(result.Started);
        Assert.Contains(RmtSettings.ScheduleRequest, result.SkippedBecause, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_invalid_request_template_fails_naming_the_setting_and_the_field()
    {
        var error = await Assert.ThrowsAsync<ContractException>(() =>
            Timer("""{"datasets":{"midTrain":"datasets/a.txt"}}""").TickAsync(fixture.Host.Client, DateTime.UtcNow));
        Assert.Contains(RmtSettings.ScheduleRequest, error.Message, StringComparison.Ordinal);
        Assert.Contains("postTrain", error.Message, StringComparison.OrdinalIgnoreCase);
    }
}
