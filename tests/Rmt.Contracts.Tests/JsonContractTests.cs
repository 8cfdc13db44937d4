using Rmt.Contracts;

namespace Rmt.Contracts.Tests;

public sealed class JsonContractTests
{
    private static StageJob SampleJob() => new(
        RunId: "run-1", Stage: "mid-train", Kind: StageKind.MidTrain, Attempt: 1,
        OutputPrefix: BlobLayout.CheckpointPrefix("run-1", "mid-train"),
        Dataset: BlobLayout.Dataset("demo", "corpus.txt"),
        BaseCheckpoint: BlobLayout.Checkpoint("run-1", "pretrain", 200),
        MidTrain: new MidTrainConfig());

    [Fact]
    public void Stage_job_round_trips()
    {
        var job = SampleJob();
        var json = RmtJson.Serialize(job);

        var back = RmtJson.ParseJob(json, "job");

        Assert.Equal(job with { MidTrain = null }, back with { MidTrain = null });
        Assert.Equal(job.MidTrain, back.MidTrain);
        Assert.Contains("\"kind\":\"mid-train\"", json, StringComparison.Ordinal);
    }

    [Fact]
    public void Stage_event_round_trips_with_every_payload()
    {
        var e = new StageEvent("run-1", "mid-train", 2, 7, DateTimeOffset.Parse("2026-01-01T00:00:00Z"), StageEventKind.Completed,
            Progress: new StageProgress(10, 10, Loss: 1.5, Reward: 0.25),
            Result: new StageResult(new CheckpointRef("checkpoints/run-1/mid-train/step-10", 10), Metrics: new Dictionary<string, double> { ["acc"] = 0.5 }));

        var back = RmtJson.ParseEvent(RmtJson.Serialize(e), "event");

        Assert.Equal(e.Sequence, back.Sequence);
        Assert.Equal(e.Progress, back.Progress);
        Assert.Equal(0.5, back.Result!.Metrics!["acc"]);
        Assert.Equal("run-1/mid-train/2/7", back.MessageId);
    }

    [Fact]
    public void Unknown_field_is_named()
    {
        var json = RmtJson.Serialize(SampleJob()).Replace("\"attempt\":1", "\"attempt\":1,\"atempt\":2", StringComparison.Ordinal);

        var error = Assert.Throws<ContractException>(() => RmtJson.ParseJob(json, "job message 42"));

        Assert.Contains("job message 42", error.Message, StringComparison.Ordinal);
        Assert.Contains("atempt", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_required_field_is_named()
    {
        var json = RmtJson.Serialize(SampleJob()).Replace("\"runId\":\"run-1\",", "", StringComparison.Ordinal);

        var error = Assert.Throws<ContractException>(() => RmtJson.ParseJob(json, "job message 42"));

        Assert.Contains("runId", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_stage_kind_lists_the_valid_ones()
    {
        var json = RmtJson.Serialize(SampleJob()).Replace("\"kind\":\"mid-train\"", "\"kind\":\"midtrain\"", StringComparison.Ordinal);

        var error = Assert.Throws<ContractException>(() => RmtJson.ParseJob(json, "job"));

        Assert.True(error.Message.Contains("post-train", StringComparison.Ordinal), error.Message);
    }

    [Fact]
    public void Wrong_schema_version_is_refused()
    {
        var json = RmtJson.Serialize(SampleJob() with { SchemaVersion = 99 });

        var error = Assert.Throws<ContractException>(() => RmtJson.ParseJob(json, "job"));

        Assert.Contains("schemaVersion 99", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{", "malformed JSON")]
    [InlineData("", "empty")]
    [InlineData("null", "null")]
    [InlineData("[]", "$")]
    public void Malformed_json_gives_a_clear_error(string json, string expected)
    {
        var error = Assert.Throws<ContractException>(() => RmtJson.ParseJob(json, "job"));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Job_without_the_config_of_its_kind_is_refused()
    {
        var error = Assert.Throws<ContractException>(() => (SampleJob() with { MidTrain = null }).Validate());

        Assert.Contains("midTrain", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_config_value_names_the_field_and_range()
    {
        var error = Assert.Throws<ContractException>(() => new MidTrainConfig(GroupSize: 1).Validate());

        Assert.Equal("midTrain.groupSize is 1; it must be between 2 and 1024", error.Message);
    }

    [Fact]
    public void Pipeline_request_needs_only_datasets()
    {
        var request = RmtJson.ParseRequest(
            """{"datasets":{"midTrain":"datasets/demo/corpus.txt","postTrain":"datasets/demo/math.jsonl"}}""", "request");

        Assert.Equal(SchemaVersions.Current, request.SchemaVersion);
        Assert.Null(request.RunId);
    }

    [Fact]
    public void Pipeline_request_with_a_bad_blob_path_names_the_field()
    {
        var error = Assert.Throws<ContractException>(() => RmtJson.ParseRequest(
            """{"datasets":{"midTrain":"corpus.txt","postTrain":"datasets/demo/math.jsonl"}}""", "request"));

        Assert.Contains("datasets.midTrain", error.Message, StringComparison.Ordinal);
    }
}
