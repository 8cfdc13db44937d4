using Microsoft.DurableTask;

namespace Rmt.Pipeline;

/// <summary>Registers the pipeline's orchestrators and activities under their versioned durable names
/// (what the Microsoft.DurableTask source generator would do; it is not available here). Activities are
/// created per call through DI: they need IArtifactStore, IJobQueue, IStageEventStream and logging.</summary>
public static class PipelineRegistration
{
    public static DurableTaskRegistry AddRmtPipeline(this DurableTaskRegistry registry)
    {
        registry.AddOrchestrator<PipelineOrchestrator>(PipelineNames.PipelineOrchestrator);
        registry.AddOrchestrator<StageOrchestrator>(PipelineNames.StageOrchestrator);
        registry.AddActivity<ValidateRequestActivity>(PipelineNames.ValidateRequestActivity);
        registry.AddActivity<DispatchJobActivity>(PipelineNames.DispatchJobActivity);
        registry.AddActivity<DrainEventsActivity>(PipelineNames.DrainEventsActivity);
        registry.AddActivity<WriteCancelMarkerActivity>(PipelineNames.WriteCancelMarkerActivity);
        registry.AddActivity<StopAttemptActivity>(PipelineNames.StopAttemptActivity);
        registry.AddActivity<WriteReportActivity>(PipelineNames.WriteReportActivity);
        return registry;
    }
}
