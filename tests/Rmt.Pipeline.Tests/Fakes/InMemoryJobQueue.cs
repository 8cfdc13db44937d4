using System.Collections.Concurrent;
using System.Threading.Channels;
using Rmt.Cloud;
using Rmt.Contracts;

namespace Rmt.Pipeline.Tests.Fakes;

/// <summary>IJobQueue over a channel, with the Storage-queue contract: messages travel as JSON, a
/// message that does not parse comes back with its error, dead-lettered messages are kept with a reason.</summary>
public sealed class InMemoryJobQueue : IJobQueue
{
    private readonly Channel<(string Id, string Body)> _messages = Channel.CreateUnbounded<(string, string)>();
    private readonly ConcurrentQueue<StageJob> _sent = new();

    public IReadOnlyList<StageJob> Sent => _sent.ToList();
    public ConcurrentQueue<(string Body, string Reason)> DeadLetters { get; } = new();

    public Task SendAsync(StageJob job, CancellationToken ct = default)
    {
        job.Validate();
        _sent.Enqueue(job);
        return _messages.Writer.WriteAsync((job.MessageId, RmtJson.Serialize(job)), ct).AsTask();
    }

    public async Task<ReceivedJob?> ReceiveAsync(TimeSpan wait, CancellationToken ct = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(wait);
        try
        {
            var (id, body) = await _messages.Reader.ReadAsync(timeout.Token);
            try
            {
                return new ReceivedJob(RmtJson.ParseJob(body, $"job message {id}"), null, body, id, 1, id);
            }
            catch (ContractException e)
            {
                return new ReceivedJob(null, e.Message, body, id, 1, id);
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return null;
        }
    }

    public Task CompleteAsync(ReceivedJob job, CancellationToken ct = default) => Task.CompletedTask;

    public Task DeadLetterAsync(ReceivedJob job, string reason, CancellationToken ct = default)
    {
        DeadLetters.Enqueue((job.Body, reason));
        return Task.CompletedTask;
    }
}
