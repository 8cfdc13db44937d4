using System.Globalization;
using System.Text;
using Rmt.Contracts;
using Rmt.Pipeline;
using Rmt.Pipeline.Http;

namespace Rmt.Local.Demo;

/// <summary>What ./run.sh shows: makes and uploads the demo datasets, submits the demo pipeline over
/// the local HTTP API (tiny model pretrained from scratch -> RMT mid-training -> evaluation -> math
/// post-training -> evaluation, all on the CPU), prints its progress, and at the end copies the run's
/// report and artifacts to {DataDir}/reports/{runId}/ and says where the checkpoints are. A demo run
/// that an earlier, interrupted ./run.sh left running is followed instead of starting a new one.</summary>
public sealed class DemoRun(LocalHost host, DemoOptions options, TextWriter output)
{
    public const string RunPrefix = "demo-";

    /// <summary>0 when the run completed; 1 when it failed or was cancelled.</summary>
    public async Task<int> RunAsync(CancellationToken ct)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        var started = DateTimeOffset.UtcNow;
        var runId = await FindActiveDemoRunAsync(http, ct);
        if (runId is not null)
        {
            Say($"Continuing demo run {runId}, which an earlier start left running (its state is durable in Azurite).");
        }
        else
        {
            var files = DemoData.Write(Path.Combine(host.Options.DataDir, "demo-data"), DemoRequest.DataSize(options.Size), gsm8kFolder: options.Gsm8kFolder);
            await DemoData.UploadAsync(host.Cloud.Artifacts, files, ct);
            Say($"Uploaded the demo datasets: {DemoData.Pretrain}, {DemoData.Corpus}, {DemoData.CorpusEval}, {DemoData.MathTrain}, {DemoData.MathTest}");
            runId = RunPrefix + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
            var request = DemoRequest.Create(runId, options.Size);
            using var response = await http.PostAsync(Url("pipelines"), new StringContent(RmtJson.Serialize(request), Encoding.UTF8, "application/json"), ct);
            var body = await response.Content.ReadAsStringAsync(ct);
            if ((int)response.StatusCode != 202)
            {
                Say($"The demo request was refused ({(int)response.StatusCode}): {body}");
                return 1;
            }
            var accepted = PipelineApiJson.Deserialize<SubmitAccepted>(body);
            Say($"Submitted demo run {accepted.RunId}: POST {Url("pipelines")} -> 202, status at {accepted.StatusUri}" +
                (accepted.TraceParent is null ? "" : $" (trace {PipelineTelemetry.TraceIdOf(accepted.TraceParent)})"));
        }

        var final = await FollowAsync(http, runId, started, ct);
        await CollectAsync(runId, final, ct);
        return final.Status == Outcomes.Completed ? 0 : 1;
    }

    private async Task<string?> FindActiveDemoRunAsync(HttpClient http, CancellationToken ct)
    {
        foreach (var status in new[] { "running", "pending" })
        {
            var list = PipelineApiJson.Deserialize<PipelineList>(await http.GetStringAsync(Url($"pipelines?status={status}"), ct));
            if (list.Items.FirstOrDefault(i => i.Id.StartsWith(RunPrefix, StringComparison.Ordinal)) is { } active)
                return active.Id;
        }
        return null;
    }

    /// <summary>Polls GET /api/pipelines/{id} and prints a line whenever the stage, attempt or step changes.</summary>
    private async Task<PipelineStatusView> FollowAsync(HttpClient http, string runId, DateTimeOffset started, CancellationToken ct)
    {
        string? last = null;
        while (true)
        {
            using var response = await http.GetAsync(Url($"pipelines/{runId}"), ct);
            var view = PipelineApiJson.Deserialize<PipelineStatusView>(await response.Content.ReadAsStringAsync(ct));
            var line = Describe(view);
            if (line != last)
            {
                Say($"[{Elapsed(started)}] {line}");
                last = line;
            }
            if (view.Status is not ("pending" or "running" or "suspended")) return view;
            await Task.Delay(options.PollInterval, ct);
        }
    }

    public static string Describe(PipelineStatusView view)
    {
        var text = new StringBuilder($"{view.Id} {view.Status}");
        if (view.Stage is not null) text.Append(CultureInfo.InvariantCulture, $" | stage {view.Stage}");
        if (view.Attempt > 0) text.Append(CultureInfo.InvariantCulture, $" attempt {view.Attempt}");
        if (view.Progress is { } p)
        {
            text.Append(CultureInfo.InvariantCulture, $" | step {p.Step}/{p.TotalSteps}");
            if (p.Loss is { } loss) text.Append(CultureInfo.InvariantCulture, $" loss {loss:0.###}");
            if (p.Reward is { } reward) text.Append(CultureInfo.InvariantCulture, $" reward {reward:0.###}");
            if (p.Accuracy is { } accuracy) text.Append(CultureInfo.InvariantCulture, $" accuracy {accuracy:0.###}");
            if (p.Budget is { } budget) text.Append(CultureInfo.InvariantCulture, $" budget {budget:0.#}");
            if (p.ReasoningLength is { } length) text.Append(CultureInfo.InvariantCulture, $" reasoning {length:0.#} tokens");
        }
        else if (view.Message is not null) text.Append(CultureInfo.InvariantCulture, $" | {view.Message}");
        if (view.Failure is not null) text.Append(CultureInfo.InvariantCulture, $" | {view.Failure}");
        return text.ToString();
    }

    /// <summary>Copies runs/{runId}/ (report, events, metrics, plots) into {DataDir}/reports/{runId}/
    /// and prints where everything is.</summary>
    private async Task CollectAsync(string runId, PipelineStatusView final, CancellationToken ct)
    {
        var store = host.Cloud.Artifacts;
        var folder = Path.Combine(Path.GetFullPath(host.Options.DataDir), "reports", runId);
        Directory.CreateDirectory(folder);
        var prefix = BlobLayout.Run(runId) + "/";
        foreach (var blob in await store.ListAsync(prefix, ct))
        {
            var local = Path.Combine(folder, blob[prefix.Length..].Replace('/', Path.DirectorySeparatorChar));
            Directory.CreateDirectory(Path.GetDirectoryName(local)!);
            await store.DownloadFileAsync(blob, local, ct);
        }

        Say("");
        Say($"Run {runId} ended: {final.Status}{(final.Output?.Reason is { } reason ? $" ({reason})" : "")}");
        foreach (var stage in final.Output?.Stages ?? [])
            Say($"  {stage.Stage,-16} {stage.Status,-10} attempts {stage.Attempts}" +
                (stage.Result?.Checkpoint is { } checkpoint ? $"  checkpoint {checkpoint.Uri}" : "") +
                (stage.Reason is { } why ? $"  ({why})" : ""));
        var report = Path.Combine(folder, "report.md");
        Say(File.Exists(report)
            ? $"Report: {report} (in Azurite: {BlobLayout.RunReport(runId)})"
            : $"No report was written; the run's files are in {folder}");
        Say($"Checkpoints: {host.Cloud.Artifacts.UriOf($"{BlobLayout.CheckpointsContainer}/{runId}")}/ (Azurite, data in {Path.Combine(Path.GetFullPath(host.Options.DataDir), "azurite")})");
        Say($"Job logs: {Path.Combine(host.Options.JobRunner.WorkRoot, "logs")}");
    }

    private Uri Url(string relative) => new($"{host.ApiBase.ToString().TrimEnd('/')}/{relative}");

    private static string Elapsed(DateTimeOffset since)
    {
        var elapsed = DateTimeOffset.UtcNow - since;
        return $"{(int)elapsed.TotalMinutes:00}:{elapsed.Seconds:00}";
    }

    private void Say(string line)
    {
        lock (output) output.WriteLine(line);
    }
}

/// <summary>Knobs of the demo.</summary>
public sealed record DemoOptions
{
    public DemoSize Size { get; init; } = DemoSize.Demo;

    /// <summary>A folder with GSM8K's train.jsonl and test.jsonl; generated problems when null.</summary>
    public string? Gsm8kFolder { get; init; }

    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(2);
}
