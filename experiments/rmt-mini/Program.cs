using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Rmt.Contracts;
using Rmt.Training.Checkpoints;
using Rmt.Training.Model;
using Rmt.Training.Reporting;
using Rmt.Training.Rmt;
using Rmt.Training.Tokenizers;
using Rmt.Training.Training;
using RmtMini;
using static TorchSharp.torch;

// rmt-mini: dotnet run -c Release --project experiments/rmt-mini -- <config.json> <work dir> <results.md>
if (args.Length is < 3 or > 4)
{
    Console.Error.WriteLine("usage: RmtMini <config.json> <work dir> <results.md> [tinyshakespeare input.txt]   (see experiments/rmt-mini/README.md)");
    return 2;
}
var config = ExperimentConfig.Load(args[0]);
var work = Path.GetFullPath(args[1]);
var resultsPath = Path.GetFullPath(args[2]);
Directory.CreateDirectory(work);
set_num_threads(config.Threads);
var total = Stopwatch.StartNew();
void Log(string message) => Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{total.Elapsed:hh\\:mm\\:ss}] {message}"));
Log($"config {config.Name}: {config.ToJson().Replace('\n', ' ')}");

const string PretrainSecondsFile = "pretrain-seconds.txt"; // wall time of the base model's pretraining, for the report
var tokenizer = ByteLevelBpeTokenizer.CreateBytes();
var format = new ReasoningFormat(tokenizer);
string shakespeare = File.ReadAllText(args.Length > 3 ? args[3] : FindShakespeare());
int trainTextEnd = (int)(shakespeare.Length * 0.9);

// 1. Pretraining corpus: plain text plus worked traces, as shuffled documents.
var corpus = new MiniCorpus(shakespeare, config.Seed);
var baseDir = Path.Combine(work, "base");
bool pretrainedNow = false;
if (!File.Exists(Path.Combine(baseDir, Checkpoint.TrainerStateFile)))
{
    var docs = new List<int[]>();
    var (plain, _) = corpus.Plain(tokenizer, config.PretrainPlainTokens, config.ArithmeticShare, 0, trainTextEnd);
    for (int i = 0; i < plain.Length; i += 2048) docs.Add(plain[i..Math.Min(plain.Length, i + 2048)]);
    for (int i = 0; i < config.PretrainTraces; i++)
    {
        var trace = corpus.Trace(format, arithmetic: i % 3 != 0, config.ContextTokens);
        if (i < 6) Log($"example trace: {trace.ReplaceLineEndings(" ")}");
        docs.Add(tokenizer.Encode(trace));
    }
    var shuffle = new Random(config.Seed);
    var pretrainTokens = docs.OrderBy(_ => shuffle.Next()).SelectMany(d => d).ToArray();
    Log($"pretraining corpus: {pretrainTokens.Length:N0} tokens ({plain.Length:N0} plain, {config.PretrainTraces:N0} traces)");

    var modelConfig = ModelPresets.Create(config.ModelPreset, tokenizer.VocabSize);
    using var fresh = new CausalLM(modelConfig, seed: config.Seed);
    var schedule = new TrainingSchedule(Steps: config.PretrainSteps, BatchSize: config.PretrainBatch, LearningRate: config.PretrainLearningRate,
        WarmupSteps: Math.Min(50, config.PretrainSteps / 10), Seed: config.Seed);
    var (train, validation) = TokenWindows.Split(pretrainTokens, 0.02);
    using var ntp = new NtpTrainer(fresh, tokenizer, new TokenWindows(train, config.PretrainSequence, config.Seed), schedule);
    var validationWindows = new TokenWindows(validation, config.PretrainSequence, config.Seed + 1);
    while (ntp.Step < config.PretrainSteps)
    {
        var step = ntp.TrainStep();
        if (step.Step % 100 == 0 || step.Step == config.PretrainSteps)
            Log($"pretrain step {step.Step}/{config.PretrainSteps} loss {step.Loss:F3} val {ntp.Evaluate(validationWindows, 4, 16):F3} tok/s {step.TokensPerSecond:F0}");
    }
    ntp.SaveCheckpoint(baseDir, RmtJson.Serialize(new PretrainConfig(schedule, config.PretrainSequence, config.ModelPreset)));
    pretrainedNow = true;
    File.WriteAllText(Path.Combine(baseDir, PretrainSecondsFile), total.Elapsed.TotalSeconds.ToString("F0", CultureInfo.InvariantCulture));
    Log($"base model saved to {baseDir} ({fresh.ParameterCount:N0} parameters)");
}
else Log($"base model found in {baseDir}; pretraining it took {PretrainSeconds()} s");


// 2. Mid-training and held-out text (fresh sums; held-out Shakespeare is the last 10% of the play text).
var midCorpus = new MiniCorpus(shakespeare, config.Seed + 100);
var (midTokens, _) = midCorpus.Plain(tokenizer, config.MidTrainTokens, config.ArithmeticShare, 0, trainTextEnd);
var (heldTokens, heldSums) = new MiniCorpus(shakespeare, config.Seed + 200).Plain(tokenizer, config.HeldOutTokens, config.ArithmeticShare, trainTextEnd, shakespeare.Length);
var dataDir = Path.Combine(work, "data");
Directory.CreateDirectory(dataDir);
var proxyFingerprint = EntropyCache.Fingerprint(baseDir);
float[] Entropies(string name, int[] tokens)
{
    var path = Path.Combine(dataDir, name + ".tokens");
    File.WriteAllBytes(path, tokens.SelectMany(BitConverter.GetBytes).ToArray());
    var (entropies, cached) = EntropyCache.LoadOrCompute(path, tokens, proxyFingerprint, 16, () =>
    {
        using var proxy = ModelIO.Load(baseDir);
        return TokenEntropy.Compute(proxy, tokens, 16);
    });
    Log($"{name}: {tokens.Length:N0} tokens, entropies {(cached ? "from cache" : "computed")}");
    return entropies;
}
var midEntropies = Entropies("midtrain", midTokens);
var heldEntropies = Entropies("heldout", heldTokens);
// Sum digits only (every other position trivial): the positions where reasoning is needed.
var sumEntropies = Enumerable.Repeat(float.NaN, heldTokens.Length).ToArray();
foreach (var p in heldSums) sumEntropies[p] = 9f;
var curriculum = new CurriculumConfig();
var tiers = new EntropyTiers(curriculum);
for (int band = 0; band < 3; band++)
    Log($"mid-train {(Tier)band}: {midEntropies.Count(h => tiers.Band(h) == (Tier)band):N0} positions; held-out: {heldEntropies.Count(h => tiers.Band(h) == (Tier)band):N0}");

// 3. Methods: evaluation-only baselines on the base model, then every training configuration.
var schedule2 = new TrainingSchedule(Steps: config.RlSteps, BatchSize: config.RlBatch, LearningRate: config.RlLearningRate,
    WarmupSteps: Math.Min(10, config.RlSteps / 10), ProgressEvery: config.ProgressEvery, CheckpointEvery: config.RlSteps, Seed: config.Seed);
MidTrainConfig MethodConfig(string preset)
{
    var c = MidTrainPresets.Get(preset, schedule2);
    return c with
    {
        GroupSize = config.GroupSize,
        ContextTokens = config.ContextTokens,
        Budget = c.Budget with { Initial = config.BudgetInitial, Minimum = config.BudgetMinimum, Gamma = config.BudgetGamma },
        Rollout = c.Rollout with { MaxReasoningTokens = config.MaxReasoningTokens },
        Reward = c.Reward with { LengthOnlyIfCorrect = config.LengthOnlyIfCorrect },
        Grpo = c.Grpo with { KlWeight = MidTrainPresets.UsesKl(preset) ? config.KlWeight : 0.0 },
    };
}
// B_T, the budget hint a method trained with a budget sees at evaluation; null without a budget.
int? FinalBudget(MidTrainConfig c) => c.Budget.Enabled ? new BudgetSchedule(c.Budget, config.RlSteps).Value(config.RlSteps) : null;
NextTokenEvalOptions EvalOptions(bool reasoning, int? budget) => new(reasoning, budget, config.EvalPositionsPerTier, config.ContextTokens, config.MaxReasoningTokens, Seed: config.Seed);

var rows = new List<MethodResult>();
using (var baseModel = ModelIO.Load(baseDir))
{
    rows.Add(Evaluate("NTP (base, argmax)", baseModel, EvalOptions(false, null), null, 0));
    rows.Add(Evaluate("NTR (base reasons, untrained)", baseModel, EvalOptions(true, null), null, 0));
    // The untrained base given the final budget hint that RMT sees at evaluation: separates what the
    // hint alone does (the base learned to follow hints in pretraining) from what RMT's training adds.
    int hint = FinalBudget(MethodConfig(MidTrainPresets.RmtName))!.Value;
    rows.Add(Evaluate($"NTR with the budget hint B_T = {hint} (untrained)", baseModel, EvalOptions(true, hint), null, 0));
}

var methods = config.Methods ?? [.. MidTrainPresets.Names];
foreach (var preset in methods)
{
    var methodConfig = MethodConfig(preset);
    using var policy = ModelIO.Load(baseDir);
    var watch = Stopwatch.StartNew();
    using var reference = methodConfig.Grpo.KlWeight > 0 && methodConfig.Reinforcement ? ModelIO.Load(baseDir) : null;
    using var trainer = new RmtTrainer(methodConfig, policy, tokenizer, midTokens, midEntropies, reference);
    Log($"{preset}: training {config.RlSteps} steps");
    trainer.Train(p => Log($"{preset}: {p}"), t => t.SaveCheckpoint(Path.Combine(work, "runs", preset, $"step-{t.Step}")));
    double seconds = watch.Elapsed.TotalSeconds;
    int? finalBudget = FinalBudget(methodConfig);
    rows.Add(Evaluate(Label(preset), policy, EvalOptions(methodConfig.Reinforcement, finalBudget), trainer.History, seconds));
}

WriteReport(rows);
Log($"done; report {resultsPath}");
return 0;

MethodResult Evaluate(string label, CausalLM model, NextTokenEvalOptions options, IReadOnlyList<MidTrainStepStats>? history, double seconds)
{
    var result = NextTokenEvaluator.Evaluate(model, tokenizer, heldTokens, heldEntropies, tiers, options);
    var sums = NextTokenEvaluator.Evaluate(model, tokenizer, heldTokens, sumEntropies, tiers, options with { PositionsPerTier = config.EvalPositionsPerTier });
    Log(string.Create(CultureInfo.InvariantCulture,
        $"eval {label}: easy {100 * result.Accuracy.Easy:F2} medium {100 * result.Accuracy.Medium:F2} hard {100 * result.Accuracy.Hard:F2} avg {100 * result.Accuracy.Average:F2} len {result.MeanReasoningLength:F1} formed {result.WellFormed:F2} | sum digits {100 * sums.Accuracy.Hard:F2}"));
    return new MethodResult(label, result, sums.Accuracy.Hard, history, seconds);
}

string? PretrainSeconds()
{
    var path = Path.Combine(baseDir, PretrainSecondsFile);
    return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
}

static string Label(string preset) => preset switch
{
    MidTrainPresets.RmtName => "RMT",
    MidTrainPresets.RptName => "RPT",
    MidTrainPresets.NoBudgetName => "RMT w/o budget",
    MidTrainPresets.NoCurriculumName => "RMT w/o curriculum",
    MidTrainPresets.NoNtpName => "RMT w/o NTP",
    MidTrainPresets.NtpContinuedName => "NTP continued (same compute)",
    _ => preset,
};

void WriteReport(List<MethodResult> results)
{
    var dir = Path.GetDirectoryName(resultsPath)!;
    var plotDir = Path.Combine(dir, Path.GetFileNameWithoutExtension(resultsPath));
    Directory.CreateDirectory(plotDir);
    var trained = results.Where(r => r.History is { Count: > 0 } && r.History.Any(s => s.Budget is not null || s.Reward > 0 || s.ReasoningLength > 0)).ToList();
    int window = Math.Max(1, config.RlSteps / 15);
    string Plot(string file, string title, string y, Func<MidTrainStepStats, double> value) =>
        Path.GetFileName(LinePlots.Save(Path.Combine(plotDir, file), title, "step", y,
            trained.Select(r => new PlotSeries(r.Label, [.. r.History!.Select(s => (double)s.Step)], LinePlots.Smooth([.. r.History!.Select(value)], window)))));
    var plots = new[]
    {
        Plot("reward.png", "Mean reward per step (moving average)", "reward", s => s.Reward),
        Plot("accuracy.png", "Training next-token accuracy of the rollouts", "accuracy", s => s.Accuracy),
        Plot("reasoning-length.png", "Mean reasoning length (tokens)", "tokens", s => s.ReasoningLength),
        Plot("budget.png", "Token budget B_t (methods with a budget)", "B_t", s => s.Budget ?? double.NaN),
    };

    var r = results.ToDictionary(x => x.Label);
    var sb = new StringBuilder();
    sb.AppendLine("# RMT miniature reproduction");
    sb.AppendLine();
    string timing = pretrainedNow
        ? string.Create(CultureInfo.InvariantCulture, $"total wall time {total.Elapsed:hh\\:mm\\:ss} (base pretraining included: {PretrainSeconds()} s)")
        : string.Create(CultureInfo.InvariantCulture, $"wall time {total.Elapsed:hh\\:mm\\:ss} after the base model, which an earlier run of this config pretrained in {PretrainSeconds() ?? "an unrecorded number of"} s (reused from its work folder)");
    sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"Config `{config.Name}` (experiments/rmt-mini/configs/{config.Name}.json), {timing}, {config.Threads} torch thread(s). Produced by `experiments/rmt-mini/run.sh`; every number below comes from that run."));
    sb.AppendLine();
    sb.AppendLine("Next-token accuracy (%) on held-out text by nested entropy tier (RPT split: easy = H >= 0.5, medium >= 1.0, hard >= 1.5 nats under the base model's top-16 distribution), and mean reasoning length in tokens (bytes). \"Sum digits\" is the accuracy on the digits of the arithmetic sums alone, where reasoning is needed.");
    sb.AppendLine();
    sb.AppendLine("| Method | Easy | Medium | Hard | Avg | Reasoning length | Sum digits | Train time (s) |");
    sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
    foreach (var x in results)
    {
        string len = x.Result.Reasoning ? x.Result.MeanReasoningLength.ToString("F1", CultureInfo.InvariantCulture) : "0 (argmax)";
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"| {x.Label} | {100 * x.Result.Accuracy.Easy:F2} | {100 * x.Result.Accuracy.Medium:F2} | {100 * x.Result.Accuracy.Hard:F2} | {100 * x.Result.Accuracy.Average:F2} | {len} | {100 * x.SumDigits:F2} | {x.Seconds:F0} |"));
    }
    sb.AppendLine();
    sb.AppendLine("## The paper's qualitative claims on this run");
    sb.AppendLine();
    void Claim(string text, bool? holds) => sb.AppendLine($"- {text}: **{(holds is null ? "not measured (method not run)" : holds.Value ? "holds" : "does not hold")}**");
    r.TryGetValue("RMT", out var rmt);
    r.TryGetValue("RPT", out var rpt);
    r.TryGetValue("NTP (base, argmax)", out var ntpBase);
    Claim("RMT average accuracy above RPT", rmt is null || rpt is null ? null : rmt.Result.Accuracy.Average > rpt.Result.Accuracy.Average);
    Claim("RMT hard-tier accuracy above RPT", rmt is null || rpt is null ? null : rmt.Result.Accuracy.Hard > rpt.Result.Accuracy.Hard);
    Claim("RMT average accuracy above NTP", rmt is null || ntpBase is null ? null : rmt.Result.Accuracy.Average > ntpBase.Result.Accuracy.Average);
    Claim("RMT hard-tier accuracy above NTP", rmt is null || ntpBase is null ? null : rmt.Result.Accuracy.Hard > ntpBase.Result.Accuracy.Hard);
    var hinted = results.FirstOrDefault(x => x.Label.StartsWith("NTR with the budget hint", StringComparison.Ordinal));
    Claim("RMT average accuracy above the untrained base given the same budget hint (what training adds)", rmt is null || hinted is null ? null : rmt.Result.Accuracy.Average > hinted.Result.Accuracy.Average);
    Claim("RMT mean reasoning length at most 30% of RPT's", rmt is null || rpt is null ? null : rmt.Result.MeanReasoningLength <= 0.3 * rpt.Result.MeanReasoningLength);
    var ablations = new[] { "RMT w/o budget", "RMT w/o curriculum", "RMT w/o NTP" }.Where(r.ContainsKey).ToList();
    if (rmt is not null && ablations.Count == 3)
    {
        var worst = ablations.OrderBy(a => r[a].Result.Accuracy.Average).First();
        Claim($"removing NTP loses the most (largest drop: {worst})", worst == "RMT w/o NTP");
    }
    else Claim("removing NTP loses the most", null);
    if (rmt is not null && rpt is not null && rpt.Result.MeanReasoningLength > 0)
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"\nRMT vs RPT: average {100 * rmt.Result.Accuracy.Average:F2} vs {100 * rpt.Result.Accuracy.Average:F2}, reasoning length {rmt.Result.MeanReasoningLength:F1} vs {rpt.Result.MeanReasoningLength:F1} tokens ({100 * rmt.Result.MeanReasoningLength / rpt.Result.MeanReasoningLength:F0}%)."));
    sb.AppendLine();
    sb.AppendLine("## Plots");
    sb.AppendLine();
    var rel = Path.GetFileName(plotDir);
    foreach (var p in plots) sb.AppendLine($"![{p}]({rel}/{p})");
    sb.AppendLine();
    sb.AppendLine("## Config");
    sb.AppendLine();
    sb.AppendLine("```json");
    sb.AppendLine(config.ToJson());
    sb.AppendLine("```");
    File.WriteAllText(resultsPath, sb.ToString());
    File.WriteAllText(Path.Combine(work, "results.json"), JsonSerializer.Serialize(results.Select(x => new
    {
        x.Label, Easy = x.Result.Accuracy.Easy, Medium = x.Result.Accuracy.Medium, Hard = x.Result.Accuracy.Hard, Avg = x.Result.Accuracy.Average,
        x.Result.MeanReasoningLength, x.Result.WellFormed, x.SumDigits, x.Seconds,
    })));
}

static string FindShakespeare()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        var candidate = Path.Combine(dir.FullName, "..", "shared", "data", "tinyshakespeare", "input.txt");
        if (File.Exists(Path.Combine(dir.FullName, "Rmt.sln")) && File.Exists(candidate)) return Path.GetFullPath(candidate);
    }
    throw new FileNotFoundException("cannot find ../shared/data/tinyshakespeare/input.txt next to the repository; pass the path as a 4th argument");
}

namespace RmtMini
{
    internal sealed record MethodResult(string Label, NextTokenEvaluation Result, double SumDigits, IReadOnlyList<MidTrainStepStats>? History, double Seconds);
}
