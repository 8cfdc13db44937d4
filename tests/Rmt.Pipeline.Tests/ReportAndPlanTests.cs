using Rmt.Contracts;
using Rmt.Pipeline.Http;
using Rmt.Pipeline.Tests.Fakes;

namespace Rmt.Pipeline.Tests;

public sealed class ReportAndPlanTests
{
    [Fact]
    public void Report_lays_out_the_paper_tables_with_baseline_rows_and_relative_plot_links()
    {
        var metrics = new Dictionary<string, double>
        {
            ["accuracy_easy"] = 0.9, ["accuracy_medium"] = 0.6, ["accuracy_hard"] = 0.3, ["accuracy"] = 0.6, ["reasoning_length"] = 186,
            ["rpt/accuracy"] = 0.35, ["rpt/reasoning_length"] = 872,
        };
        var stages = new List<StageOutcome>
        {
            new(PipelineStages.MidTrainEval, StageKind.Eval, Outcomes.Completed, 1, new StageResult(Metrics: metrics)),
            new(PipelineStages.PostTrain, StageKind.PostTrain, Outcomes.Failed, 3, Reason: "stage 'post-train' failed: boom"),
        };
        var input = new ReportInput("r1", Outcomes.Failed, stages, new DateTime(2026, 1, 1), new DateTime(2026, 1, 1, 0, 30, 0), "boom");
        var plots = new Dictionary<string, IReadOnlyList<string>> { [PipelineStages.MidTrainEval] = ["runs/r1/mid-train-eval/plots/accuracy.png"] };

        var report = ReportBuilder.Build(input, plots);

        Assert.Contains("- Status: **failed**", report);
        Assert.Contains("| RMT (this run) | 90.00 | 60.00 | 30.00 | 60.00 | 186.0 |", report);
        Assert.Contains("| RPT | - | - | - | 35.00 | 872.0 |", report);
        Assert.Contains("| post-train | post-train | failed | 3 | - |", report);
        Assert.Contains("- post-train: stage 'post-train' failed: boom", report);
        Assert.Contains("![accuracy](mid-train-eval/plots/accuracy.png)", report);
        Assert.DoesNotContain("## Math accuracy", report); // post-training did not complete
    }

    [Fact]
    public void Plan_chains_checkpoints_and_datasets_through_the_stages()
    {
        var request = PipelineTestHost.Request("r1");

        var pretrain = StagePlan.Pretrain("r1", request, "00-tp");
        var post = StagePlan.PostTrain("r1", request, "checkpoints/r1/mid-train/step-9", "00-tp");
        var postEval = StagePlan.PostTrainEval("r1", request, "checkpoints/r1/post-train/step-9", null);

        pretrain.Validate();
        post.Validate();
        postEval.Validate();
        Assert.Equal(("datasets/demo/corpus.txt", (string?)null), (pretrain.Dataset, pretrain.BaseCheckpoint));
        Assert.Equal("checkpoints/r1/pretrain", pretrain.OutputPrefix);
        Assert.Equal(("checkpoints/r1/mid-train/step-9", "datasets/gsm8k/test.jsonl"), (post.BaseCheckpoint, post.EvalDataset));
        Assert.Equal((StageKind.Eval, "datasets/gsm8k/test.jsonl"), (postEval.Kind, postEval.Dataset));
        Assert.Equal("00-tp", post.TraceParent);
    }

    [Theory]
    [InlineData("pipeline request: unknown field 'bogus' at $.datasets.bogus; remove it or check its spelling", "datasets.bogus")]
    [InlineData("pipeline request: datasets.midTrain 'x' is not a blob path; write it as \"container/name\"", "datasets.midTrain")]
    [InlineData("pipeline request: options.maxAttempts is 0; it must be between 1 and 20", "options.maxAttempts")]
    [InlineData("pipeline request: the document is empty; expected a JSON PipelineRequest", null)]
    public void Problem_details_name_the_field_a_contract_message_names(string message, string? field) =>
        Assert.Equal(field, PipelineHandlers.FieldOf(message));
}
