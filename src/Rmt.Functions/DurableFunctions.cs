using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Microsoft.Extensions.DependencyInjection;
using Rmt.Contracts;
using Rmt.Pipeline;

namespace Rmt.Functions;

/// <summary>The pipeline's orchestrators and activities as Functions, under their versioned durable
/// names (<see cref="PipelineNames"/>). This is what the Microsoft.DurableTask source generator emits
/// for class-based tasks (it is not served to this build): each wrapper creates the class and calls
/// its RunAsync. All logic lives in Rmt.Pipeline, where the local host runs the same classes.</summary>
public static class DurableFunctions
{
    [Function(PipelineNames.PipelineOrchestrator)]
    public static Task<PipelineOutput> PipelineAsync([OrchestrationTrigger] TaskOrchestrationContext context) =>
        new PipelineOrchestrator().RunAsync(context, context.GetInput<PipelineInput>()!);

    [Function(PipelineNames.StageOrchestrator)]
    public static Task<StageOutcome> StageAsync([OrchestrationTrigger] TaskOrchestrationContext context) =>
        new StageOrchestrator().RunAsync(context, context.GetInput<StageInput>()!);

    [Function(PipelineNames.ValidateRequestActivity)]
    public static Task<ValidateRequestResult> ValidateRequestAsync([ActivityTrigger] ValidateRequestInput input, FunctionContext function) =>
        Activity<ValidateRequestActivity>(function, PipelineNames.ValidateRequestActivity).RunAsync(Context(function, PipelineNames.ValidateRequestActivity), input);

    [Function(PipelineNames.DispatchJobActivity)]
    public static Task<DispatchResult> DispatchJobAsync([ActivityTrigger] DispatchInput input, FunctionContext function) =>
        Activity<DispatchJobActivity>(function, PipelineNames.DispatchJobActivity).RunAsync(Context(function, PipelineNames.DispatchJobActivity), input);

    [Function(PipelineNames.DrainEventsActivity)]
    public static Task<DrainResult> DrainEventsAsync([ActivityTrigger] DrainInput input, FunctionContext function) =>
        Activity<DrainEventsActivity>(function, PipelineNames.DrainEventsActivity).RunAsync(Context(function, PipelineNames.DrainEventsActivity), input);

    [Function(PipelineNames.WriteCancelMarkerActivity)]
    public static Task<bool> WriteCancelMarkerAsync([ActivityTrigger] CancelMarkerInput input, FunctionContext function) =>
        Activity<WriteCancelMarkerActivity>(function, PipelineNames.WriteCancelMarkerActivity).RunAsync(Context(function, PipelineNames.WriteCancelMarkerActivity), input);

    [Function(PipelineNames.StopAttemptActivity)]
    public static Task<bool> StopAttemptAsync([ActivityTrigger] StopAttemptInput input, FunctionContext function) =>
        Activity<StopAttemptActivity>(function, PipelineNames.StopAttemptActivity).RunAsync(Context(function, PipelineNames.StopAttemptActivity), input);

    [Function(PipelineNames.WriteReportActivity)]
    public static Task<ReportResult> WriteReportAsync([ActivityTrigger] ReportInput input, FunctionContext function) =>
        Activity<WriteReportActivity>(function, PipelineNames.WriteReportActivity).RunAsync(Context(function, PipelineNames.WriteReportActivity), input);

    private static T Activity<T>(FunctionContext function, string name) where T : ITaskActivity =>
        function.InstanceServices.GetService<T>()
        ?? throw new InvalidOperationException($"activity {name} ({typeof(T).Name}) is not registered; call FunctionsServices.AddRmtCloud in Program.cs");

    private static FunctionActivityContext Context(FunctionContext function, string name) =>
        new(new TaskName(name), function.BindingContext.BindingData.TryGetValue("instanceId", out var id) ? id?.ToString() ?? "" : "");
}

/// <summary>The activity context the generator would emit: the activity's name and its orchestration's id.</summary>
internal sealed class FunctionActivityContext(TaskName name, string instanceId) : TaskActivityContext
{
    public override TaskName Name { get; } = name;

    public override string InstanceId { get; } = instanceId;
}
