using System.Runtime.CompilerServices;
using Rmt.Training.Checkpoints;

namespace Rmt.GpuJob.Tests;

/// <summary>The command line, run in-process: tokenize, generate, help and errors.</summary>
public sealed class CliTests
{
#pragma warning disable CA2255 // process-wide test setup: one torch thread on the shared build machine
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void SingleThreadedTorch() => TorchSharp.torch.set_num_threads(1);

    private static string Fixture(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Rmt.sln")))
                return Path.Combine(Environment.GetEnvironmentVariable("RMT_SHARED") ?? Path.Combine(dir.FullName, "..", "shared"), "fixtures", "hf", name);
        throw new DirectoryNotFoundException("repository root not found");
    }

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = Program.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void Tokenize_prints_ids_on_one_line()
    {
        var (code, output, _) = Run("tokenize", "--tokenizer", Fixture("tokenizer-bpe-384"), "--text", "<think>7+5=12</think>12<|endoftext|>");
        Assert.Equal(0, code);
        Assert.Equal("1 25 13 23 31 19 20 2 19 20 0", output.Trim());
    }

    [Fact]
    public void Greedy_generate_prints_transformers_greedy_output_on_its_last_line()
    {
        var reference = SafeTensors.Load(Path.Combine(Fixture("qwen2-tiny"), "reference.safetensors"));
        string prompt = string.Join(' ', reference["greedy_prompt"].data<long>().ToArray());
        string expected = string.Join(' ', reference["greedy_output"].data<long>().ToArray());
        var (code, output, error) = Run("generate", "--model", Fixture("qwen2-tiny"), "--prompt-ids", prompt, "--max-new-tokens", "16", "--greedy");
        Assert.True(code == 0, error);
        Assert.Equal(expected, output.TrimEnd().Split('\n')[^1].Trim());
    }

    [Fact]
    public void Help_lists_every_command()
    {
        var (code, output, _) = Run("--help");
        Assert.Equal(0, code);
        foreach (var name in new[] { "tokenize", "generate", "bench" }) Assert.Contains(name, output);
    }

    [Fact]
    public void Unknown_command_and_unknown_option_are_named()
    {
        var (code, _, error) = Run("fly");
        Assert.Equal(2, code);
        Assert.Contains("unknown command 'fly'", error);
        (code, _, error) = Run("tokenize", "--tokenizer", Fixture("tokenizer-bpe-384"), "--txt", "x");
        Assert.Equal(2, code);
        Assert.Contains("--txt", error);
    }

    [Fact]
    public void Bench_runs_on_a_small_setting()
    {
        var (code, output, error) = Run("bench", "--batch", "2", "--seq", "16", "--train-steps", "1", "--gen-batch", "2", "--prompt-len", "4", "--new-tokens", "8", "--repeats", "1");
        Assert.True(code == 0, error);
        Assert.Contains("train:", output);
        Assert.Contains("generate (KV cache):", output);
        Assert.Contains("peak memory:", output);
    }
}
