using System.Diagnostics.CodeAnalysis;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;

namespace Rmt.Cloud.Faults;

/// <summary>What <see cref="FaultInjectionPolicy"/> does to one request.</summary>
public enum Fault
{
    /// <summary>Let the request through untouched.</summary>
    None,

    /// <summary>Send the request, let the server apply it, then lose the reply (the connection resets):
    /// the client's retry sends the same request again against the changed state.</summary>
    DropReplyAfterApply,

    /// <summary>Do not send the request; answer 503 Server Busy as an overloaded storage account does.</summary>
    ServiceUnavailable,

    /// <summary>Do not send the request; fail as a timed-out or refused connection does.</summary>
    ConnectionFailure,
}

/// <summary>
/// An Azure.Core pipeline policy that injects storage faults, for the fault-injection tests and the
/// chaos run (scripts/chaos.sh). Add it per retry, so the SDK's own retry policy sees every injected
/// fault exactly as it sees a real one:
/// <code>
/// var options = new BlobClientOptions();
/// options.AddPolicy(new FaultInjectionPolicy(FaultInjectionPolicy.Random(seed: 7, rate: 0.03)), HttpPipelinePosition.PerRetry);
/// </code>
/// <see cref="Decide"/> sees each request before it is sent and picks its fault; it is called under a
/// lock, so a seeded decision is deterministic for a given order of requests. Counts are kept per fault.
/// </summary>
public sealed class FaultInjectionPolicy : HttpPipelinePolicy
{
    private readonly Func<HttpMessage, Fault> _decide;
    private readonly Lock _lock = new();
    private readonly Dictionary<Fault, int> _counts = [];
    private int _requests;

    public FaultInjectionPolicy(Func<HttpMessage, Fault> decide) => _decide = decide ?? throw new ArgumentNullException(nameof(decide));

    /// <summary>Requests seen, faulted or not.</summary>
    public int Requests
    {
        get { lock (_lock) return _requests; }
    }

    /// <summary>How many requests got <paramref name="fault"/> so far.</summary>
    public int Count(Fault fault)
    {
        lock (_lock) return _counts.GetValueOrDefault(fault);
    }

    /// <summary>Every injected fault (all but <see cref="Fault.None"/>).</summary>
    public int Injected
    {
        get { lock (_lock) return _counts.Where(c => c.Key != Fault.None).Sum(c => c.Value); }
    }

    /// <summary>A seeded decision: each request gets a fault with probability <paramref name="rate"/>,
    /// the three kinds equally likely.</summary>
    public static Func<HttpMessage, Fault> Random(int seed, double rate)
    {
        if (rate is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(rate), rate, "the fault rate is a probability between 0 and 1");
        var random = new Random(seed);
        return _ => random.NextDouble() >= rate ? Fault.None : (Fault)(1 + random.Next(3));
    }

    /// <summary>Faults the first <paramref name="times"/> requests that <paramref name="match"/> accepts, then none.</summary>
    public static Func<HttpMessage, Fault> Once(Func<HttpMessage, bool> match, Fault fault, int times = 1)
    {
        var left = times;
        return message =>
        {
            if (left <= 0 || !match(message)) return Fault.None;
            left--;
            return fault;
        };
    }

    /// <summary>Whether the request is a PUT of a blob whose path ends with <paramref name="suffix"/>.</summary>
    public static bool IsPutOf(HttpMessage message, string suffix) =>
        message.Request.Method == RequestMethod.Put
        && message.Request.Uri.Path.EndsWith(suffix, StringComparison.Ordinal)
        && !message.Request.Uri.Query.Contains("comp=", StringComparison.Ordinal);

    public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline) =>
        ProcessAsync(message, pipeline, async: false).AsTask().GetAwaiter().GetResult();

    public override ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline) =>
        ProcessAsync(message, pipeline, async: true);

    private async ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline, bool async)
    {
        Fault fault;
        lock (_lock)
        {
            _requests++;
            fault = _decide(message);
            _counts[fault] = _counts.GetValueOrDefault(fault) + 1;
        }
        switch (fault)
        {
            case Fault.ServiceUnavailable:
                message.Response = new InjectedResponse(503, "Server Busy (injected)", message.Request.ClientRequestId);
                return;
            case Fault.ConnectionFailure:
                throw new IOException($"injected fault: connection to {message.Request.Uri.Host} failed before {message.Request.Method} was sent");
        }
        if (async) await ProcessNextAsync(message, pipeline);
        else ProcessNext(message, pipeline);
        if (fault == Fault.DropReplyAfterApply)
        {
            message.Response.Dispose();
            throw new IOException($"injected fault: the reply to {message.Request.Method} {message.Request.Uri.Path} was lost after the server applied it");
        }
    }

    /// <summary>A response that never reached the server: a status, no body, no headers.</summary>
    private sealed class InjectedResponse(int status, string reason, string clientRequestId) : Response
    {
        public override int Status => status;
        public override string ReasonPhrase => reason;
        public override bool IsError => true; // what the transport's classifier says of a 503; the retry policy asks it
        public override Stream? ContentStream { get; set; } = new MemoryStream();
        public override string ClientRequestId { get; set; } = clientRequestId;
        public override void Dispose() => ContentStream?.Dispose();
        protected override bool ContainsHeader(string name) => false;
        protected override IEnumerable<HttpHeader> EnumerateHeaders() => [];
        protected override bool TryGetHeader(string name, [NotNullWhen(true)] out string? value)
        {
            value = null;
            return false;
        }
        protected override bool TryGetHeaderValues(string name, [NotNullWhen(true)] out IEnumerable<string>? values)
        {
            values = null;
            return false;
        }
    }
}
