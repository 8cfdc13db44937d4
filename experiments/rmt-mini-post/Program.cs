using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Rmt.Contracts;
using Rmt.Jobs;
using Rmt.Jobs.Executors;
using Rmt.Training.Checkpoints;
using Rmt.Training.PostTraining;
using RmtMini;
using RmtMiniPost;
using static TorchSharp.torch;

// rmt-mini post-training: dotnet run -c Release --project experiments/rmt-mini-post -- <config.json> <rmt-mini work dir> <results.md>
if (args.Length != 3)
{
    Console.Error.WriteLine("usage: RmtMiniPost <config.json> <rmt-mini work dir> <results.md>   (see experiments/rmt-mini/post-train.sh)");
    return 2;
}
var config = PostExperimentConfig.Load(args[0]);
var work = Path.GetFullPath(args[1]);
var resultsPath = Path.GetFullPath(args[2]);
set_num_threads(config.Threads);
var total = Stopwatch.StartNew();
void Log(string message) => Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{total.Elapsed:hh\\:mm\\:ss}] {message}"));
Log($"config {config.Name}: {config.ToJson()}");

// 1. One problem set for every checkpoint: seeded, held-out questions never trained on.
var postDir = Path.Combine(work, "post-train", config.Name);
var dataDir = Path.Combine(postDir, "data");
var (train, heldOut) = config.MiniOperands > 0
    ? MiniProblems(config.TrainProblems, config.HeldOutProblems, config.Seed, config.MiniOperands)
    : new ArithmeticProblemGenerator(config.Problems).GenerateSplit(config.TrainProblems, config.HeldOutProblems, config.Seed);
// A finished run in the work folder is kept and an interrupted one resumes, so the folder must hold
// this configuration's runs: another config or other problems (a code change) under the same name
// would be reported as if they were this one's.
var inputs = config.ToJson() + "\n" + string.Concat(train.Concat(heldOut).Select(p => $"{p.Question}\t{p.Answer}\n"));
var inputsPath = Path.Combine(postDir, "inputs.txt");
if (File.Exists(inputsPath) && File.ReadAllText(inputsPath) != inputs)
{
    Console.Error.WriteLine($"{postDir} holds runs of another configuration or other problems than config '{config.Name}' makes now; " +
                            "delete that folder to run this one from scratch, or give the config another name");
    return 2;
}
Directory.CreateDirectory(postDir);
File.WriteAllText(inputsPath, inputs);
Gsm8kLoader.Save(Path.Combine(dataDir, "train.jsonl"), train);
Gsm8kLoader.Save(Path.Combine(dataDir, "test.jsonl"), heldOut);
Log($"problems: {train.Count} train, {heldOut.Count} held out; e.g. {heldOut[0].Question} -> {MathPromptFormat.Completion(heldOut[0])}");

// 2. The same post-training budget for each starting checkpoint and seed.
var runs = new List<(string Name, PostTrainResult Result)>();
var byCheckpoint = new List<(string Name, List<PostTrainResult> Seeds)>();
var skipped = new List<string>();
foreach (var name in config.Checkpoints)
{
    var checkpoint = Resolve(name);
    if (checkpoint is null || !File.Exists(Path.Combine(checkpoint, "config.json")))
    {
        Log($"{name}: no checkpoint under {work} (run experiments/rmt-mini first); skipped");
        skipped.Add(name);
        continue;
    }
    var results = new List<PostTrainResult>();
    for (int s = 0; s < config.Seeds; s++)
    {
        Log($"{name} seed {s}: post-training {checkpoint}");
        var postTrain = config.PostTrain with { Schedule = config.PostTrain.Schedule with { Seed = config.PostTrain.Schedule.Seed + s } };
        // The post-train stage as the pipeline runs it: the job lifecycle on local folders (FolderJob).
        var outDir = Path.Combine(postDir, $"{name}-s{s}");
        var job = new StageJob(FolderJob.RunId, "post-train", StageKind.PostTrain, 1, BlobLayout.CheckpointPrefix(FolderJob.RunId, "post-train"), PostTrain: postTrain);
        using var stop = new JobStopSignal();
        var prefix = $"{name} s{s}: ";
        var outcome = await FolderJob.RunAsync(job, new LocalStageInputs(Path.Combine(dataDir, "train.jsonl"), Path.Combine(dataDir, "test.jsonl"), checkpoint),
            outDir, StageExecutorCatalog.All(), new LineLogger(m => Log(prefix + m)), null, stop, CancellationToken.None);
        if (outcome.ExitCode != JobExitCode.Done)
        {
            Console.Error.WriteLine($"{name} seed {s}: post-training ended with {outcome.ExitCode}: {outcome.Summary}");
            return 1;
        }
        var result = PostTrainReport.ReadResult(Path.Combine(outDir, PostTrainReport.ResultFileName));
        results.Add(result);
        runs.Add((config.Seeds > 1 ? $"{Label(name)} (seed {s})" : Label(name), result));
    }
    byCheckpoint.Add((Label(name), results));
}
if (runs.Count == 0)
{
    Console.Error.WriteLine($"no checkpoint found under {work}; run experiments/rmt-mini first");
    return 1;
}

// 3. Report: before -> after warm-up -> after GRPO, mean over seeds, then every run, and plots.
var plotDir = Path.Combine(Path.GetDirectoryName(resultsPath)!, Path.GetFileNameWithoutExtension(resultsPath));
Directory.CreateDirectory(plotDir);
var plots = PostTrainReport.ComparisonPlots(runs, plotDir);
var md = new StringBuilder();
md.AppendLine(string.Create(CultureInfo.InvariantCulture, $"## Post-training the mid-trained checkpoints ({config.Name})")).AppendLine();
md.AppendLine(string.Create(CultureInfo.InvariantCulture,
    $"Each checkpoint of `{work}` got the same post-training budget: {PostTrainReport.WarmupDescription(config.PostTrain, train.Count, stepsTaken: null)} on worked solutions (the models never saw the `#### x` answer format), then {config.PostTrain.Schedule.Steps} GRPO steps x {config.PostTrain.Schedule.BatchSize} problems x G = {config.PostTrain.GroupSize}, lr {config.PostTrain.Schedule.LearningRate:G3}, KL {config.PostTrain.Grpo.KlWeight} to the policy as GRPO starts, format weight {config.PostTrain.FormatRewardWeight}; {config.Seeds} post-training seed(s). "));
string problems = config.MiniOperands > 0
    ? string.Create(CultureInfo.InvariantCulture, $"{config.TrainProblems} rmt-mini sentences with {config.MiniOperands} two-digit operands, asked up to their sum and solved with mid-training's column steps (e.g. `{Flat(heldOut[0].Question)}` -> `{Flat(MathPromptFormat.Completion(heldOut[0]))}`)")
    : string.Create(CultureInfo.InvariantCulture, $"{config.TrainProblems} generated {config.Problems.Style.ToString().ToLowerInvariant()} problems ({config.Problems.Operations} operation(s), {config.Problems.Digits}-digit operands, '{config.Problems.Operators}')");
md.AppendLine(string.Create(CultureInfo.InvariantCulture,
    $"Problems: {problems}, {config.HeldOutProblems} held out; accuracy is greedy, pass@{config.PostTrain.PassAtK} from {config.PostTrain.EvalSamples} samples at temperature {config.PostTrain.Temperature}. \"Before\" is the checkpoint as mid-training left it."));
md.AppendLine();
md.AppendLine("Greedy accuracy first, then sampled accuracy (pass@1 at the training temperature: the quantity GRPO's reward averages).").AppendLine();
md.AppendLine("| starting checkpoint | seeds | before | warm-up steps (per seed) | after format warm-up | after GRPO | GRPO minus warm-up (per seed, points) | sampled after warm-up | sampled after GRPO | sampled: GRPO minus warm-up (per seed, points) |");
md.AppendLine("|---|---:|---:|---|---:|---:|---|---:|---:|---|");
foreach (var (name, results) in byCheckpoint)
{
    string Mean(Func<PostTrainResult, double> f) => Pm(results.Select(f).ToArray());
    string PerSeed(Func<PostTrainResult, string> f) => string.Join(", ", results.Select(f));
    string Gains(Func<MathEvaluation, double> f) => PerSeed(r => r.AfterFormatWarmup is { } w
        ? (100 * (f(r.After) - f(w))).ToString("+0.0;-0.0;0.0", CultureInfo.InvariantCulture) : "-");
    md.AppendLine(string.Create(CultureInfo.InvariantCulture,
        $"| {name} | {results.Count} | {Mean(r => r.Before.Accuracy)} | {PerSeed(r => r.FormatWarmupStepsTaken?.ToString(CultureInfo.InvariantCulture) ?? "-")} | {Mean(r => r.AfterFormatWarmup?.Accuracy ?? double.NaN)} | {Mean(r => r.After.Accuracy)} | {Gains(e => e.Accuracy)} " +
        $"| {Mean(r => r.AfterFormatWarmup?.SampledAccuracy ?? double.NaN)} | {Mean(r => r.After.SampledAccuracy)} | {Gains(e => e.SampledAccuracy)} |"));
}
md.AppendLine();
md.AppendLine("Every run:").AppendLine();
md.AppendLine(PostTrainReport.ComparisonTable(runs)).AppendLine();
if (skipped.Count > 0) md.AppendLine($"Not run (no checkpoint in the work folder): {string.Join(", ", skipped)}.").AppendLine();
var rel = Path.GetFileName(plotDir);
foreach (var p in plots) md.AppendLine($"![{Path.GetFileNameWithoutExtension(p)}]({rel}/{Path.GetFileName(p)})");
md.AppendLine().AppendLine(string.Create(CultureInfo.InvariantCulture, $"Total time {total.Elapsed.TotalMinutes:F1} min ({config.Threads} CPU thread(s)). Per-run reports: `{postDir}/<checkpoint>-s<seed>/report.md`."));
File.WriteAllText(resultsPath, md.ToString());
Log($"done; report {resultsPath}");
return 0;

// The folder of a starting checkpoint: the base, or a method's seed-0 checkpoint as rmt-mini
// recorded it (checkpoints.json), or, for work folders of older rmt-mini runs, runs/{name}/step-N.
string? Resolve(string name)
{
    if (name == "base") return Path.Combine(work, "base");
    var recorded = Path.Combine(work, "checkpoints.json");
    if (File.Exists(recorded) && JsonSerializer.Deserialize<Dictionary<string, List<string>>>(File.ReadAllText(recorded)) is { } map)
        return map.TryGetValue(name, out var dirs) && dirs.Count > 0 ? dirs[0] : null;
    return Checkpoint.Latest(Path.Combine(work, "runs", name));
}

// rmt-mini's sentences asked up to their sum; the solution is its concise column steps and the total.
static (IReadOnlyList<MathProblem> Train, IReadOnlyList<MathProblem> Test) MiniProblems(int trainCount, int testCount, int seed, int operands)
{
    var corpus = new MiniCorpus("", seed, operands);
    var seen = new HashSet<string>(StringComparer.Ordinal);
    var problems = new List<MathProblem>();
    while (problems.Count < trainCount + testCount)
    {
        var (question, solution, sum) = corpus.Problem();
        if (!seen.Add(question)) continue;                        // held-out questions never appear in training
        problems.Add(new MathProblem(question, string.Create(CultureInfo.InvariantCulture, $"{solution}\n#### {sum}")));
    }
    return (problems[..trainCount], problems[trainCount..]);
}

static string Pm(double[] values)
{
    double mean = values.Average();
    if (values.Length < 2) return (100 * mean).ToString("F1", CultureInfo.InvariantCulture) + "%";
    double sd = Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1));
    return string.Create(CultureInfo.InvariantCulture, $"{100 * mean:F1} ± {100 * sd:F1}%");
}

static string Flat(string text) => text.ReplaceLineEndings(" ").Replace("`", "'", StringComparison.Ordinal);

static string Label(string name) => name switch
{
    "base" => "base (pretrained only)",
    "ntp-continued" => "NTP continued (same compute)",
    "rpt" => "RPT",
    "rmt" => "RMT",
    _ => name,
};

/// <summary>Information and above of the stage job, one line each, through the experiment's log.</summary>
sealed class LineLogger(Action<string> write) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel)) write(formatter(state, exception) + (exception is null ? "" : $" ({exception.Message})"));
    }
}
