using System.Net.Http;
using System.Net.Sockets;
using Rmt.Cloud;
using Rmt.Contracts;

namespace Rmt.Jobs;

/// <summary>Turns an exception out of a stage into the failure the orchestration acts on: retry
/// infrastructure trouble, do not retry bad input or a training error.</summary>
public static class FailureClassifier
{
    /// <summary>Where in the job the exception happened: inputs are the job's fault, not the machine's.</summary>
    public enum Phase { Inputs, Training, Outputs }

    public static StageFailure Classify(Exception error, Phase phase)
    {
        var message = Describe(error);
        return error switch
        {
            ContractException => new StageFailure(FailureKind.InvalidInput, message, Retryable: false),
            ArtifactException when phase == Phase.Inputs => new StageFailure(FailureKind.InvalidInput, message, Retryable: false),
            _ when IsInfrastructure(error) => new StageFailure(FailureKind.Infrastructure, message, Retryable: true),
            _ when phase == Phase.Outputs => new StageFailure(FailureKind.Infrastructure, message, Retryable: true),
            _ => new StageFailure(FailureKind.Training, message, Retryable: false),
        };
    }

    /// <summary>Storage, network and disk failures, wherever they surface.</summary>
    public static bool IsInfrastructure(Exception error)
    {
        for (var e = error; e is not null; e = e.InnerException)
        {
            if (e is Azure.RequestFailedException or HttpRequestException or SocketException or IOException or TimeoutException)
                return true;
            if (e is Azure.Messaging.ServiceBus.ServiceBusException { IsTransient: true })
                return true;
        }
        return false;
    }

    /// <summary>The exception's message and type, with the innermost cause when it adds something.</summary>
    public static string Describe(Exception error)
    {
        var text = $"{error.Message} ({error.GetType().Name})";
        var inner = error;
        while (inner.InnerException is not null) inner = inner.InnerException;
        if (!ReferenceEquals(inner, error) && !error.Message.Contains(inner.Message, StringComparison.Ordinal))
            text += $"; caused by: {inner.Message} ({inner.GetType().Name})";
        return text;
    }
}
