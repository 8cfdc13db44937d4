using System.Diagnostics;
using System.Text;
using Rmt.Cloud.Azurite;
using Rmt.Contracts;

namespace Rmt.Jobs.Tests;

/// <summary>`Rmt.GpuJob run` as the local host starts it: a child process with the Azurite connection
/// string in its environment. Killed hard it resumes on the next attempt; SIGTERM checkpoints and
/// exits 130; exit codes mean what they say.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class JobProcessTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task A_job_process_killed_mid_stage_resumes_from_its_last_checkpoint_in_a_new_process()
    {
        await using var harness = JobHarness.Create(azurite);
        var runId = TinyJobs.RunId("proc-kill");
        await TinyJobs.UploadCorpusAsync(harness.Store, runId);
        var job = TinyJobs.Pretrain(runId, steps: 16, progressEvery: 2, checkpointEvery: 4);

        using (var first = StartJob(harness, job))
        {
            var newest = await WaitForCheckpointAsync(harness, runId, first.Process, TimeSpan.FromSeconds(120));
            first.Process.Kill(entireProcessTree: true);   // SIGKILL: no chance to save or publish anything
            await first.Process.WaitForExitAsync();
            Assert.True(newest >= 4 && newest < 16, $"killed after checkpoint {newest}\n{first.Output}");
        }
        var killedAt = (await harness.Store.ListCheckpointsAsync(runId, "pretrain"))[0].Step;
        Assert.DoesNotContain(await harness.DrainAsync(runId), e => e.IsTerminal);

        using var second = StartJob(harness, job with { Attempt = 2 });
        await second.Process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(180));

        Assert.True(second.Process.ExitCode == 0, second.Output);
        var events = await harness.DrainAsync(runId);
        var started = Assert.Single(events, e => e.Kind == StageEventKind.Started);
        Assert.Equal(killedAt, started.Progress!.Step);
        Assert.Contains($"resuming from step {killedAt}", started.Message, StringComparison.Ordinal);
        Assert.True(events.Where(e => e.Kind == StageEventKind.Progress).All(e => e.Progress!.Step > killedAt)); // the step counter continues
        Assert.Equal(16, events[^1].Result!.Checkpoint!.Step);
        Assert.Contains("exit 0 (Done)", second.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SIGTERM_makes_the_job_process_checkpoint_publish_a_retryable_cancel_and_exit_130()
    {
        await using var harness = JobHarness.Create(azurite);
        var runId = TinyJobs.RunId("proc-term");
        await TinyJobs.UploadCorpusAsync(harness.Store, runId);
        var job = TinyJobs.Pretrain(runId, steps: 400, progressEvery: 5, checkpointEvery: 1000);

        using var child = StartJob(harness, job);
        await WaitForEventAsync(harness, runId, child.Process, StageEventKind.Progress, TimeSpan.FromSeconds(120));
        using (var term = Process.Start("kill", ["-TERM", child.Process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) await term.WaitForExitAsync();
        await child.Process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));

        Assert.True(child.Process.ExitCode == 130, child.Output);
        var events = await harness.DrainAsync(runId);
        var failed = events[^1];
        Assert.Equal((StageEventKind.Failed, FailureKind.Cancelled, true), (failed.Kind, failed.Failure!.Kind, failed.Failure.Retryable));
        Assert.Contains("SIGTERM", failed.Failure.Message, StringComparison.Ordinal);
        var saved = Assert.Single(await harness.Store.ListCheckpointsAsync(runId, "pretrain"));
        Assert.Equal(failed.Checkpoint!.Step, saved.Step);
        Assert.True(saved.Step < 400);
    }

    [Fact]
    public async Task The_job_process_exits_2_for_a_malformed_job_and_3_for_a_job_claimed_elsewhere()
    {
        await using var harness = JobHarness.Create(azurite);
        var runId = TinyJobs.RunId("proc-codes");
        var file = Path.Combine(harness.WorkRoot, "bad.json");
        Directory.CreateDirectory(harness.WorkRoot);
        await File.WriteAllTextAsync(file, $$$"""{"runId":"{{{runId}}}","stage":"pretrain","attempt":1,"kind":"pretrain","outputPrefix":"checkpoints/{{{runId}}}/pretrain","pretrain":{"sequenceLength":2}}""");
        using (var bad = StartProcess(harness, "run", "--job-file", file, "--work-dir", harness.WorkRoot))
        {
            await bad.Process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(120));
            Assert.True(bad.Process.ExitCode == 2, bad.Output);
        }
        var failed = Assert.Single(await harness.DrainAsync(runId));
        Assert.Contains("pretrain.sequenceLength", failed.Failure!.Message, StringComparison.Ordinal);

        var job = TinyJobs.Pretrain(runId);
        Assert.True(await harness.Store.TryCreateTextAsync(BlobLayout.Claim(runId, "pretrain", 1),
            JobsJson.Serialize(new ClaimRecord(runId, "pretrain", 1, "elsewhere", 1, DateTimeOffset.UnixEpoch, job.MessageId))));
        using var claimed = StartJob(harness, job);
        await claimed.Process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(120));
        Assert.True(claimed.Process.ExitCode == 3, claimed.Output);
        Assert.Contains("already claimed by host elsewhere", claimed.Output, StringComparison.Ordinal);
    }

    private static ChildJob StartJob(JobHarness harness, StageJob job)
    {
        var file = Path.Combine(harness.WorkRoot, $"job-{job.Attempt}.json");
        Directory.CreateDirectory(harness.WorkRoot);
        File.WriteAllText(file, RmtJson.Serialize(job));
        return StartProcess(harness, "run", "--job-file", file, "--work-dir", Path.Combine(harness.WorkRoot, "work"), "--cancel-poll", "1");
    }

    private static ChildJob StartProcess(JobHarness harness, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(GpuJobDll());
        foreach (var arg in args) info.ArgumentList.Add(arg);
        info.Environment[RmtSettings.StorageConnectionString] = harness.Cloud.Options.StorageConnectionString;
        info.Environment["OMP_NUM_THREADS"] = "1";   // one torch thread on the shared build machine
        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start dotnet");
        var child = new ChildJob(process);
        process.OutputDataReceived += (_, e) => child.Record(e.Data);
        process.ErrorDataReceived += (_, e) => child.Record(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>src/Rmt.GpuJob/bin/{configuration}/{tfm}/Rmt.GpuJob.dll, built with this test project.</summary>
    private static string GpuJobDll()
    {
        var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var (tfm, configuration) = (here.Name, here.Parent!.Name);
        var dll = Path.Combine(AzuriteServer.FindRepoRoot(), "src", "Rmt.GpuJob", "bin", configuration, tfm, "Rmt.GpuJob.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException($"build src/Rmt.GpuJob ({configuration}) first; {dll} is missing", dll);
    }

    private static async Task<long> WaitForCheckpointAsync(JobHarness harness, string runId, Process process, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            var checkpoints = await harness.Store.ListCheckpointsAsync(runId, "pretrain");
            if (checkpoints.Count > 0) return checkpoints[0].Step;
            if (process.HasExited) throw new InvalidOperationException($"the job exited with {process.ExitCode} before its first checkpoint");
            await Task.Delay(50);
        }
        throw new TimeoutException("no checkpoint appeared");
    }

    private static async Task WaitForEventAsync(JobHarness harness, string runId, Process process, StageEventKind kind, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        var queue = harness.Cloud.QueueService!.GetQueueClient(((Rmt.Cloud.StorageQueueEventStream)harness.Cloud.Events).QueueNameOf(runId));
        while (clock.Elapsed < timeout)
        {
            if (await queue.ExistsAsync())
            {
                var peeked = (await queue.PeekMessagesAsync(32)).Value;
                if (peeked.Any(m => RmtJson.ParseEvent(m.Body.ToString(), "event").Kind == kind)) return;
            }
            if (process.HasExited) throw new InvalidOperationException($"the job exited with {process.ExitCode} before a {kind} event");
            await Task.Delay(50);
        }
        throw new TimeoutException($"no {kind} event appeared");
    }

    private sealed class ChildJob(Process process) : IDisposable
    {
        private readonly StringBuilder _output = new();

        public Process Process { get; } = process;

        public string Output
        {
            get { lock (_output) return _output.ToString(); }
        }

        public void Record(string? line)
        {
            if (line is null) return;
            lock (_output) _output.AppendLine(line);
        }

        public void Dispose()
        {
            if (!Process.HasExited) Process.Kill(entireProcessTree: true);
            Process.Dispose();
        }
    }
}
