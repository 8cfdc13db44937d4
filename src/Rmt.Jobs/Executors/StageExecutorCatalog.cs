namespace Rmt.Jobs.Executors;

/// <summary>The executors a job process runs: one per stage kind this build supports.</summary>
public static class StageExecutorCatalog
{
    public static StageExecutors All() => new([new PretrainExecutor(), new MidTrainExecutor(), new PostTrainExecutor(), new EvalExecutor()]);
}
