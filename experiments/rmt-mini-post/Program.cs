using System.Diagnostics;
using System.Globalization;
using System.Text;
using Rmt.Training.Checkpoints;
using Rmt.Training.PostTraining;
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
var (train, heldOut) = new ArithmeticProblemGenerator(config.Problems).GenerateSplit(config.TrainProblems, config.HeldOutProblems, config.Seed);
Gsm8kLoader.Save(Path.Combine(dataDir, "train.jsonl"), train);
Gsm8kLoader.Save(Path.Combine(dataDir, "test.jsonl"), heldOut);
Log($"problems: {train.Count} train, {heldOut.Count} held out; e.g. {heldOut[0].Question} -> {MathPromptFormat.Completion(heldOut[0])}");

// 2. The same post-training budget for each starting checkpoint.
var runs = new List<(string Name, PostTrainResult Result)>();
var skipped = new List<string>();
foreach (var name in config.Checkpoints)
{
    var checkpoint = name == "base" ? Path.Combine(work, "base") : Checkpoint.Latest(Path.Combine(work, "runs", name));
    if (checkpoint is null || !File.Exists(Path.Combine(checkpoint, "config.json")))
    {
        Log($"{name}: no checkpoint under {work} (run experiments/rmt-mini first); skipped");
        skipped.Add(name);
        continue;
    }
    Log($"{name}: post-training {checkpoint}");
    var stage = new PostTrainStage(config.PostTrain, new PostTrainCallbacks { Log = m => Log($"{name}: {m}") });
    var result = stage.Run(new PostTrainInputs(checkpoint, Path.Combine(dataDir, "train.jsonl"), Path.Combine(dataDir, "test.jsonl"), Path.Combine(postDir, name)));
    runs.Add((Label(name), result));
}
if (runs.Count == 0)
{
    Console.Error.WriteLine($"no checkpoint found under {work}; run experiments/rmt-mini first");
    return 1;
}

// 3. Report: before -> after table and plots next to the markdown.
var plotDir = Path.Combine(Path.GetDirectoryName(resultsPath)!, Path.GetFileNameWithoutExtension(resultsPath));
Directory.CreateDirectory(plotDir);
var plots = PostTrainReport.ComparisonPlots(runs, plotDir);
var md = new StringBuilder();
md.AppendLine(string.Create(CultureInfo.InvariantCulture, $"## Post-training the mid-trained checkpoints ({config.Name})")).AppendLine();
md.AppendLine(string.Create(CultureInfo.InvariantCulture,
    $"Each checkpoint of `{work}` got the same post-training budget: {config.PostTrain.FormatWarmupSteps} NTP steps on worked solutions (the models never saw the `#### x` answer format), then {config.PostTrain.Schedule.Steps} GRPO steps x {config.PostTrain.Schedule.BatchSize} problems x G = {config.PostTrain.GroupSize}, lr {config.PostTrain.Schedule.LearningRate:G3}, KL {config.PostTrain.Grpo.KlWeight}, format weight {config.PostTrain.FormatRewardWeight}. "));
md.AppendLine(string.Create(CultureInfo.InvariantCulture,
    $"Problems: {config.TrainProblems} generated {config.Problems.Style.ToString().ToLowerInvariant()} problems ({config.Problems.Operations} operation(s), {config.Problems.Digits}-digit operands, '{config.Problems.Operators}'), {config.HeldOutProblems} held out; accuracy is greedy, pass@{config.PostTrain.PassAtK} from {config.PostTrain.EvalSamples} samples at temperature {config.PostTrain.Temperature}. \"Before\" is the checkpoint as mid-training left it."));
md.AppendLine();
md.AppendLine(PostTrainReport.ComparisonTable(runs)).AppendLine();
if (skipped.Count > 0) md.AppendLine($"Not run (no checkpoint in the work folder): {string.Join(", ", skipped)}.").AppendLine();
var rel = Path.GetFileName(plotDir);
foreach (var p in plots) md.AppendLine($"![{Path.GetFileNameWithoutExtension(p)}]({rel}/{Path.GetFileName(p)})");
md.AppendLine().AppendLine(string.Create(CultureInfo.InvariantCulture, $"Total time {total.Elapsed.TotalMinutes:F1} min ({config.Threads} CPU thread(s)). Per-run reports: `{postDir}/<checkpoint>/report/post-train.md`."));
File.WriteAllText(resultsPath, md.ToString());
Log($"done; report {resultsPath}");
return 0;

static string Label(string name) => name switch
{
    "base" => "base (pretrained only)",
    "ntp-continued" => "NTP continued (same compute)",
    "rpt" => "RPT",
    "rmt" => "RMT",
    _ => name,
};
