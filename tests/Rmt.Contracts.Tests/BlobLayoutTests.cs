using Rmt.Contracts;

namespace Rmt.Contracts.Tests;

public sealed class BlobLayoutTests
{
    [Fact]
    public void Paths_follow_the_design_layout()
    {
        Assert.Equal("checkpoints/r1/mid-train/step-40", BlobLayout.Checkpoint("r1", "mid-train", 40));
        Assert.Equal("runs/r1/events.jsonl", BlobLayout.RunEvents("r1"));
        Assert.Equal("runs/r1/post-train/claims/attempt-2.json", BlobLayout.Claim("r1", "post-train", 2));
        Assert.Equal("datasets/gsm8k/train.jsonl", BlobLayout.Dataset("gsm8k", "train.jsonl"));
    }

    [Theory]
    [InlineData("checkpoints/r1/s/step-120", 120L)]
    [InlineData("checkpoints/r1/s/step-120/", 120L)]
    [InlineData("checkpoints/r1/s/step-x", null)]
    [InlineData("checkpoints/r1/s/tmp", null)]
    public void Step_is_read_from_the_folder_name(string path, long? step) => Assert.Equal(step, BlobLayout.StepOf(path));

    [Theory]
    [InlineData("nocontainer")]
    [InlineData("other/x")]
    [InlineData("datasets/../x")]
    [InlineData("datasets/")]
    public void Invalid_blob_paths_are_refused(string path) =>
        Assert.Throws<ContractException>(() => BlobLayout.Validate(path, "dataset"));

    [Fact]
    public void Split_separates_container_and_name() =>
        Assert.Equal(("runs", "r1/report.md"), BlobLayout.Split("runs/r1/report.md"));

    [Fact]
    public void Blob_paths_longer_than_Blob_Storage_allows_are_refused()
    {
        BlobLayout.Validate("datasets/" + new string('a', BlobLayout.MaxPathLength - 9), "dataset");
        var error = Assert.Throws<ContractException>(() => BlobLayout.Validate("datasets/" + new string('a', BlobLayout.MaxPathLength), "dataset"));
        Assert.Contains("at most 1024", error.Message, StringComparison.Ordinal);
    }
}
