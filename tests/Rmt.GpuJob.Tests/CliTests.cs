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
        int code = Program.RunAsync(args, output, error).GetAwaiter().GetResult();
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
    public void The_library_checks_types_required_options_and_exclusive_options_with_exit_code_2()
    {
        var (code, _, error) = Run("bench", "--batch", "two");
        Assert.Equal(2, code);
        Assert.Contains("'two'", error);
        Assert.Contains("--batch", error);
        (code, _, error) = Run("train", "--kind", "pretrain");
        Assert.Equal(2, code);
        Assert.Contains("--dataset", error);
        (code, _, error) = Run("tokenize", "--tokenizer", Fixture("tokenizer-bpe-384"));
        Assert.Equal(2, code);
        Assert.Contains("give exactly one of --text or --decode", error);
    }

    [Fact]
    public void Command_help_lists_the_options_and_the_exit_codes()
    {
        var (code, output, _) = Run("run", "--help");
        Assert.Equal(0, code);
        Assert.Contains("--job-file", output);
        Assert.Contains("exit codes: 0 done (or no message), 2 invalid job", output);
        (code, output, _) = Run("train", "--kind", "pretrain", "--help");
        Assert.Equal(0, code);
        Assert.Contains("--eval-dataset", output);
        Assert.Contains("130 Ctrl+C (checkpoint saved)", output);
    }

    /// <summary>Every way the repository starts the CLI: the local job runner (Rmt.Local/Jobs), the
    /// container images (CMD run), docs/gpu-job.md, docs/benchmarks.md, docs/gpu.md.</summary>
    [Theory]
    [InlineData("run")]
    [InlineData("run --job-file /tmp/job.json --work-dir /tmp/jobs/work --cancel-poll 0.5 --trace")]
    [InlineData("run --work-dir .rmt/jobs")]
    [InlineData("run --wait 5 --keep-work-dir")]
    [InlineData("bench --device cuda --preset qwen3-110m --vocab 32768 --batch 16 --seq 512 --train-steps 20 --gen-batch 128 --prompt-len 256 --new-tokens 128")]
    [InlineData("bench --threads 2 --repeats 1")]
    [InlineData("train --kind mid-train --dataset c.txt --out o --base b --eval-dataset e.txt --config m.json --steps 3 --device cpu")]
    [InlineData("eval --checkpoint c --dataset d.txt --out o --config e.json --max-examples 5 --device cuda")]
    [InlineData("generate --model m --prompt-ids 1,2,3 --max-new-tokens 4 --greedy --stop-at-eos --no-cache --bf16 --device cpu --threads 1")]
    [InlineData("generate --model m --tokenizer t --prompt hello --temperature 0.7 --top-p 0.9 --seed 3")]
    [InlineData("tokenize --tokenizer t --decode 1,2")]
    public void The_command_lines_the_repository_uses_parse(string line)
    {
        var parse = Program.CreateRootCommand().Parse(line.Split(' '));
        Assert.True(parse.Errors.Count == 0, string.Join("; ", parse.Errors.Select(e => e.Message)));
    }

    [Fact]
    public void No_command_prints_help_and_exits_2()
    {
        var (code, output, _) = Run();
        Assert.Equal(2, code);
        Assert.Contains("tokenize", output);
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
