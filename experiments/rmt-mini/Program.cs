using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Rmt.Contracts;
using Rmt.Training.Checkpoints;
using Rmt.Training.Model;
using Rmt.Training.Reporting;
using Rmt.Training.MidTraining;
using Rmt.Training.Tokenizers;
using Rmt.Training.Optimization;
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
const string CheckpointsFile = "checkpoints.json";         // method -> final checkpoint folder per seed, for experiments/rmt-mini-post
var tokenizer = ByteLevelBpeTokenizer.CreateBytes();
var format = new ReasoningFormat(tokenizer);
string shakespeare = File.ReadAllText(args.Length > 3 ? args[3] : FindShakespeare());
int trainTextEnd = (int)(shakespeare.Length * 0.9);

// 1. Pretraining corpus: plain text plus worked traces, as shuffled documents.
var corpus = new MiniCorpus(shakespeare, config.Seed, config.Operands);
int hintMin = Math.Max(1, config.BudgetMinimum / 2), hintMax = config.BudgetInitial; // pretraining hints span [B_T / 2, B_0]
var baseDir = Path.Combine(work, "base");
bool pretrainedNow = false;
if (!File.Exists(Path.Combine(baseDir, Checkpoint.TrainerStateFile)))
{
    var docs = new List<int[]>();
    var (plain, _) = corpus.Plain(tokenizer, config.PretrainPlainTokens, config.ArithmeticShare, 0, trainTextEnd);
    for (int i = 0; i < plain.Length; i += 2048) docs.Add(plain[i..Math.Min(plain.Length, i + 2048)]);
    for (int i = 0; i < config.PretrainTraces; i++)
    {
        var trace = corpus.Trace(format, arithmetic: i % 3 != 0, config.ContextTokens, hintMin, hintMax);
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
    var (train, pretrainValidation) = TokenWindows.Split(pretrainTokens, 0.02);
    using var ntp = new NtpTrainer(fresh, tokenizer, new TokenWindows(train, config.PretrainSequence, config.Seed), schedule);
    var validationWindows = new TokenWindows(pretrainValidation, config.PretrainSequence, config.Seed + 1);
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


// 2. Mid-training, validation and test text (fresh sums; test Shakespeare is the last 10% of the play
//    text, validation Shakespeare comes from the training part). Validation chooses the RL learning
//    rate; test positions are only scored once every choice is made.
var dataDir = Path.Combine(work, "data");
Directory.CreateDirectory(dataDir);
var proxyFingerprint = EntropyCache.Fingerprint(baseDir);
var tierSplit = new EntropyTiers(new CurriculumConfig());
TextSet Load(string name, int seedOffset, int tokenCount, int from, int to)
{
    var (tokens, kinds) = new MiniCorpus(shakespeare, config.Seed + seedOffset, config.Operands).Plain(tokenizer, tokenCount, config.ArithmeticShare, from, to);
    var path = Path.Combine(dataDir, name + ".tokens");
    File.WriteAllBytes(path, tokens.SelectMany(BitConverter.GetBytes).ToArray());
    var (entropies, cached) = EntropyCache.LoadOrCompute(path, tokens, proxyFingerprint, 16, () =>
    {
        using var proxy = ModelIO.Load(baseDir);
        return TokenEntropy.Compute(proxy, tokens, 16);
    });
    var set = new TextSet(name, tokens, kinds, entropies, config.KeyPositions == ExperimentConfig.ResultKeys);
    var bands = Enumerable.Range(0, 3).Select(b => set.KeyEntropies.Count(h => tierSplit.Band(h) == (Tier)b)).ToArray();
    Log($"{name}: {tokens.Length:N0} tokens, entropies {(cached ? "from cache" : "computed")}; key positions ({config.KeyPositions}) easy {bands[0]:N0} medium {bands[1]:N0} hard {bands[2]:N0}; " +
        $"{kinds.Count(k => k == PositionKind.Result):N0} sum digits, {kinds.Count(k => k == PositionKind.Operand):N0} operand digits, {kinds.Count(k => k == PositionKind.Text):N0} text");
    return set;
}
var mid = Load("midtrain", 100, config.MidTrainTokens, 0, trainTextEnd);
var validation = Load("validation", 300, config.ValidationTokens, (int)(shakespeare.Length * 0.8), trainTextEnd);
var test = Load("heldout", 200, config.HeldOutTokens, trainTextEnd, shakespeare.Length);

// 3. Methods: evaluation-only baselines on the base model, the learning-rate sweep on validation,
//    then every training configuration with its seeds, scored on the test positions.
MidTrainConfig MethodConfig(string preset, int seedIndex, double learningRate)
{
    var schedule = new TrainingSchedule(Steps: config.RlSteps, BatchSize: config.RlBatch, LearningRate: learningRate,
        WarmupSteps: Math.Min(10, config.RlSteps / 10), ProgressEvery: config.ProgressEvery, CheckpointEvery: config.RlSteps, Seed: config.Seed + seedIndex);
    var c = MidTrainPresets.Get(preset, schedule);
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
int finalHint = FinalBudget(MethodConfig(MidTrainPresets.RmtName, 0, config.RlLearningRate))!.Value;

Evaluation Evaluate(string label, CausalLM model, TextSet data, bool reasoning, int? budget, bool full = true)
{
    var options = new NextTokenEvalOptions(reasoning, budget, config.EvalPositionsPerTier, config.ContextTokens, config.MaxReasoningTokens, Seed: config.Seed);
    var tiers = NextTokenEvaluator.Evaluate(model, tokenizer, data.Tokens, data.KeyEntropies, tierSplit, options);
    double Kind(PositionKind kind) => NextTokenEvaluator.Evaluate(model, tokenizer, data.Tokens, data.Only(kind), tierSplit, options).Accuracy.Hard;
    var e = full
        ? new Evaluation(tiers, Kind(PositionKind.Result), Kind(PositionKind.Operand), Kind(PositionKind.Text), HeldOutLoss(model, data.Tokens))
        : new Evaluation(tiers, double.NaN, double.NaN, double.NaN, double.NaN);
    string kinds = full ? string.Create(CultureInfo.InvariantCulture, $" | sums {100 * e.Results:F2} operands {100 * e.Operands:F2} text {100 * e.Text:F2} | NTP loss {e.NtpLoss:F4}") : "";
    Log(string.Create(CultureInfo.InvariantCulture,
        $"eval {label} on {data.Name}: easy {100 * tiers.Accuracy.Easy:F2} medium {100 * tiers.Accuracy.Medium:F2} hard {100 * tiers.Accuracy.Hard:F2} avg {100 * tiers.Accuracy.Average:F2} len {tiers.MeanReasoningLength:F1} formed {tiers.WellFormed:F2}") + kinds);
    return e;
}

var rows = new List<MethodResult>();
using (var baseModel = ModelIO.Load(baseDir))
{
    rows.Add(new MethodResult("NTP (base, argmax)", [Evaluate("NTP", baseModel, test, false, null)], null, [0], [0]));
    rows.Add(new MethodResult("NTR (base reasons, untrained)", [Evaluate("NTR", baseModel, test, true, null)], null, [0], [0]));
    // The untrained base given the final budget hint that RMT sees at evaluation: separates what the
    // hint alone does (the base learned to follow hints in pretraining) from what RMT's training adds.
    rows.Add(new MethodResult($"NTR with the budget hint B_T = {finalHint} (untrained)", [Evaluate("NTR+hint", baseModel, test, true, finalHint)], null, [0], [0]));
}

// A trained run is kept in work/runs/<preset>-s<seed>-lr<lr>/ (final checkpoint and history), so a
// rerun of the same config, or the best run of the sweep, is not trained twice; a run whose saved
// MidTrainConfig differs (the config file changed) is trained again.
T WithTrained<T>(string preset, int seedIndex, double learningRate, Func<CausalLM, MidTrainConfig, TrainedRun, T> use)
{
    var c = MethodConfig(preset, seedIndex, learningRate);
    var dir = RunDir(preset, seedIndex, learningRate);
    var runFile = Path.Combine(dir, "run.json");
    // Reused only when it was trained with exactly this config (stage_config.json in the checkpoint).
    if (File.Exists(runFile) && File.Exists(Path.Combine(dir, Checkpoint.TrainerStateFile)) && RmtTrainer.ReadConfig(dir) == c)
    {
        var saved = JsonSerializer.Deserialize<TrainedRun>(File.ReadAllText(runFile))!;
        using var trained = ModelIO.Load(dir);
        Log($"{preset} seed {seedIndex} lr {learningRate:G3}: trained earlier ({saved.Seconds:F0} s), reusing {dir}");
        return use(trained, c, saved);
    }
    using var policy = ModelIO.Load(baseDir);
    using var reference = c.Grpo.KlWeight > 0 && c.Reinforcement ? ModelIO.Load(baseDir) : null;
    using var trainer = new RmtTrainer(c, policy, tokenizer, mid.Tokens, mid.KeyEntropies, reference);
    Log($"{preset} seed {seedIndex} lr {learningRate:G3}: training {config.RlSteps} steps");
    var watch = Stopwatch.StartNew();
    // Step by step, as the mid-train executor drives the trainer (this experiment's key positions and
    // their entropies are designed by MiniCorpus, so it does not take the executor's proxy entropies).
    int reported = 0;
    while (trainer.Step < c.Schedule.Steps)
    {
        trainer.TrainStep();
        if (trainer.Step % c.Schedule.ProgressEvery != 0 && trainer.Step != c.Schedule.Steps) continue;
        Log($"{preset} s{seedIndex}: {Progress(trainer.History.Skip(reported).ToList(), c.Schedule.Steps)}");
        reported = trainer.History.Count;
    }
    var run = new TrainedRun([.. trainer.History], watch.Elapsed.TotalSeconds,
        trainer.History.Sum(s => s.ReasoningLength) * config.RlBatch * (c.Reinforcement ? config.GroupSize : 0));
    trainer.SaveCheckpoint(dir);
    File.WriteAllText(runFile, JsonSerializer.Serialize(run));
    return use(policy, c, run);
}

// Means over the steps since the last progress line.
static string Progress(IReadOnlyList<MidTrainStepStats> steps, int total)
{
    var last = steps[^1];
    return string.Create(CultureInfo.InvariantCulture,
        $"step {last.Step + 1}/{total}  reward {steps.Average(x => x.Reward):F3}  acc {steps.Average(x => x.Accuracy):F3}  formed {steps.Average(x => x.WellFormed):F2}  budget {(last.Budget is int b ? b.ToString(CultureInfo.InvariantCulture) : "-")}  len {steps.Average(x => x.ReasoningLength):F1}  loss {steps.Average(x => x.Loss.Total):F4}  tok/s {steps.Average(x => x.TokensPerSecond):F0}");
}

var rates = config.SweptLearningRates;
double learningRate = rates[0];
var sweep = new List<(double Rate, Evaluation Validation)>();
if (rates.Length > 1)
{
    foreach (var rate in rates)
        sweep.Add((rate, WithTrained(MidTrainPresets.RmtName, 0, rate, (model, c, _) => Evaluate($"RMT lr {rate:G3}", model, validation, true, FinalBudget(c), full: false))));
    learningRate = sweep.MaxBy(s => s.Validation.Tiers.Accuracy.Average).Rate;
    Log($"learning rate chosen on validation: {learningRate:G3}");
}

// Which checkpoint each method and seed ended with (the chosen learning rate): experiments/rmt-mini-post reads it.
var checkpoints = new Dictionary<string, List<string>>(StringComparer.Ordinal);
foreach (var preset in config.Methods ?? [.. MidTrainPresets.Names])
{
    int seeds = preset is MidTrainPresets.RmtName or MidTrainPresets.RptName ? config.Seeds : config.AblationSeeds;
    var evaluations = new List<Evaluation>();
    var runs = new List<TrainedRun>();
    for (int s = 0; s < seeds; s++)
    {
        var (evaluation, run) = WithTrained(preset, s, learningRate, (model, c, run) =>
            (Evaluate($"{Label(preset)} seed {s}", model, test, c.Reinforcement, FinalBudget(c)), run));
        evaluations.Add(evaluation);
        runs.Add(run);
    }
    rows.Add(new MethodResult(Label(preset), evaluations, runs[0].History, [.. runs.Select(r => r.Seconds)], [.. runs.Select(r => r.RolloutTokens)]));
    checkpoints[preset] = [.. Enumerable.Range(0, seeds).Select(s => RunDir(preset, s, learningRate))];
    File.WriteAllText(Path.Combine(work, CheckpointsFile), JsonSerializer.Serialize(checkpoints));
    WriteReport(rows); // after every method, so an interrupted run leaves the rows it finished
}

WriteReport(rows);
Log($"done; report {resultsPath}");
return 0;

string RunDir(string preset, int seedIndex, double rate) =>
    Path.Combine(work, "runs", string.Create(CultureInfo.InvariantCulture, $"{preset}-s{seedIndex}-lr{rate:G3}"));

double HeldOutLoss(CausalLM model, int[] tokens)
{
    const int window = 128, batch = 16, maxWindows = 128;
    int windows = Math.Min(maxWindows, (tokens.Length - 1) / window);
    using var guard = no_grad();
    double sum = 0;
    int counted = 0;
    for (int start = 0; start < windows; start += batch)
    {
        using var scope = NewDisposeScope();
        int n = Math.Min(batch, windows - start);
        var input = new long[n * window];
        var target = new long[n * window];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < window; j++)
            {
                input[i * window + j] = tokens[(start + i) * window + j];
                target[i * window + j] = tokens[(start + i) * window + j + 1];
            }
        var logits = model.Forward(tensor(input, [n, window], int64));                       // (n, W, V)
        sum += NtpLoss.Compute(logits, tensor(target, [n, window], int64)).item<float>() * n;
        counted += n;
    }
    return sum / counted;
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
        Plot("reward.png", "Mean reward per step (moving average, seed 0)", "reward", s => s.Reward),
        Plot("accuracy.png", "Training next-token accuracy of the rollouts (seed 0)", "accuracy", s => s.Accuracy),
        Plot("reasoning-length.png", "Mean reasoning length (tokens, seed 0)", "tokens", s => s.ReasoningLength),
        Plot("budget.png", "Token budget B_t (methods with a budget)", "B_t", s => s.Budget ?? double.NaN),
    };

    var r = results.ToDictionary(x => x.Label);
    var sb = new StringBuilder();
    sb.AppendLine("# RMT miniature reproduction");
    sb.AppendLine();
    string timing = pretrainedNow
        ? string.Create(CultureInfo.InvariantCulture, $"total wall time {total.Elapsed:hh\\:mm\\:ss} (base pretraining included: {PretrainSeconds()} s)")
        : string.Create(CultureInfo.InvariantCulture, $"wall time {total.Elapsed:hh\\:mm\\:ss} after the base model, which an earlier run of this config pretrained in {PretrainSeconds() ?? "an unrecorded number of"} s (reused from its work folder; trained runs found in the work folder are reused too)");
    sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"Config `{config.Name}` (experiments/rmt-mini/configs/{config.Name}.json), {timing}, {config.Threads} torch thread(s). Produced by `experiments/rmt-mini/run.sh`; every number below comes from that run."));
    sb.AppendLine();
    string keys = config.KeyPositions == ExperimentConfig.ResultKeys
        ? "Key positions (training and the tier columns) are the digits of the sums only, tiered by entropy"
        : "Key positions (training and the tier columns) are all positions, tiered by entropy";
    sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
        $"Test accuracy (%), mean ± standard deviation over RL seeds (the base model is shared). {keys} (RPT split: easy = H >= 0.5, medium >= 1.0, hard >= 1.5 nats under the base model's top-16 distribution), up to {config.EvalPositionsPerTier} positions per band, one standard error about {100 * Math.Sqrt(0.25 / config.EvalPositionsPerTier):F1} points at 50%. ") +
        "Sums / operands / text: accuracy on the digits of the sums (computable), the digits of the operands (random) and Shakespeare, each on its own sample. NTP loss: held-out cross-entropy (nats) of the checkpoint on the test text, every position. Methods trained with a budget see B_T in the prompt. RL time and reasoning tokens are per seed.");
    sb.AppendLine();
    sb.AppendLine("| Method | Seeds | Easy | Medium | Hard | Avg | Sums | Operands | Text | Reasoning length | NTP loss | RL time (s) | Reasoning tokens generated |");
    sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    foreach (var x in results)
    {
        var first = x.Evaluations[0].Tiers;
        string len = first.Reasoning ? x.Stat(e => e.Tiers.MeanReasoningLength).Format("F1", 1) : "0 (argmax)";
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"| {x.Label} | {x.Evaluations.Count} | {x.Pct(e => e.Tiers.Accuracy.Easy)} | {x.Pct(e => e.Tiers.Accuracy.Medium)} | {x.Pct(e => e.Tiers.Accuracy.Hard)} | {x.Pct(e => e.Tiers.Accuracy.Average)} | {x.Pct(e => e.Results)} | {x.Pct(e => e.Operands)} | {x.Pct(e => e.Text)} | {len} | {x.Stat(e => e.NtpLoss).Format("F4", 1)} | {x.Seconds.Average():F0} | {x.RolloutTokens.Average():N0} |"));
    }
    if (sweep.Count > 0)
    {
        sb.AppendLine();
        sb.AppendLine("## RL learning rate, chosen on the validation split");
        sb.AppendLine();
        sb.AppendLine("RMT, seed 0, scored on validation positions (fresh sums, Shakespeare from the training part); the best average is used by every method. The test positions played no part.");
        sb.AppendLine();
        sb.AppendLine("| Learning rate | Validation avg | Validation hard | Reasoning length |");
        sb.AppendLine("|---:|---:|---:|---:|");
        foreach (var (rate, v) in sweep)
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| {rate:G3}{(rate == learningRate ? " (chosen)" : "")} | {100 * v.Tiers.Accuracy.Average:F2} | {100 * v.Tiers.Accuracy.Hard:F2} | {v.Tiers.MeanReasoningLength:F1} |"));
    }
    sb.AppendLine();
    sb.AppendLine("## The paper's qualitative claims on this run");
    sb.AppendLine();
    sb.AppendLine("\"Holds\" needs the difference of the means to exceed twice its standard error over seeds (one-seed rows have no spread: their claims are marked as such).");
    sb.AppendLine();
    var hinted = results.FirstOrDefault(x => x.Label.StartsWith("NTR with the budget hint", StringComparison.Ordinal));
    r.TryGetValue("RMT", out var rmt);
    r.TryGetValue("RPT", out var rpt);
    r.TryGetValue("NTP (base, argmax)", out var ntpBase);
    r.TryGetValue("NTR (base reasons, untrained)", out var ntr);
    void Above(string text, MethodResult? a, MethodResult? b, Func<Evaluation, double> metric) =>
        sb.AppendLine($"- {text}: **{(a is null || b is null ? "not measured (method not run)" : Compare(a.Stat(metric), b.Stat(metric)))}**");
    Above("RL helps: RMT above the untrained base given the same hint (avg)", rmt, hinted, e => e.Tiers.Accuracy.Average);
    Above("RL helps: RPT above the untrained base reasoning without a hint (avg)", rpt, ntr, e => e.Tiers.Accuracy.Average);
    Above("RMT above RPT (avg)", rmt, rpt, e => e.Tiers.Accuracy.Average);
    Above("RMT above RPT (hard)", rmt, rpt, e => e.Tiers.Accuracy.Hard);
    Above("RMT above NTP argmax (avg)", rmt, ntpBase, e => e.Tiers.Accuracy.Average);
    Above("RMT above NTP argmax (hard)", rmt, ntpBase, e => e.Tiers.Accuracy.Hard);
    if (rmt is not null && rpt is not null)
    {
        double ratio = rmt.Stat(e => e.Tiers.MeanReasoningLength).Mean / rpt.Stat(e => e.Tiers.MeanReasoningLength).Mean;
        bool notWorse = rmt.Stat(e => e.Tiers.Accuracy.Average).Mean >= rpt.Stat(e => e.Tiers.Accuracy.Average).Mean;
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"- RMT reasoning length at most 30% of RPT's without lower accuracy: **{(ratio <= 0.3 && notWorse ? "holds" : "does not hold")}** (length {100 * ratio:F0}% of RPT's, accuracy {(notWorse ? "not lower" : "lower")})"));
    }
    var ablations = new[] { "RMT w/o budget", "RMT w/o curriculum", "RMT w/o NTP" }.Where(r.ContainsKey).ToList();
    if (rmt is not null && ablations.Count == 3)
    {
        var worst = ablations.OrderBy(a => r[a].Stat(e => e.Tiers.Accuracy.Average).Mean).First();
        sb.AppendLine($"- Removing NTP loses the most (largest average drop: {worst}): **{(worst == "RMT w/o NTP" ? "holds" : "does not hold")}**");
        Above("Removing NTP raises the held-out NTP loss (RMT w/o NTP above RMT)", r["RMT w/o NTP"], rmt, e => e.NtpLoss);
    }
    else sb.AppendLine("- Removing NTP loses the most: **not measured (ablations not run)**");
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
        x.Label, Seeds = x.Evaluations.Count,
        Avg = x.Evaluations.Select(e => e.Tiers.Accuracy.Average), Hard = x.Evaluations.Select(e => e.Tiers.Accuracy.Hard),
        Length = x.Evaluations.Select(e => e.Tiers.MeanReasoningLength), Sums = x.Evaluations.Select(e => e.Results),
        NtpLoss = x.Evaluations.Select(e => e.NtpLoss), x.Seconds, x.RolloutTokens,
    })));
}

// "holds" when a - b exceeds twice the standard error of the difference over seeds.
static string Compare(Stat a, Stat b)
{
    double diff = a.Mean - b.Mean;
    double se = Math.Sqrt(a.Variance / a.Count + b.Variance / b.Count);
    string numbers = string.Create(CultureInfo.InvariantCulture, $"{a.Mean:G4} vs {b.Mean:G4}");
    if (a.Count < 2 && b.Count < 2) return diff > 0 ? $"higher, one seed each, spread unknown ({numbers})" : $"does not hold ({numbers})";
    if (diff > 2 * se) return $"holds ({numbers}, difference {diff:G3} > 2 SE {2 * se:G3})";
    return diff > 0 ? $"higher but within the seed spread ({numbers}, 2 SE {2 * se:G3})" : $"does not hold ({numbers})";
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
    /// <summary>One text set with the kind and the proxy entropy of every token; key entropies are
    /// NaN (never a key position) where the config's key-position rule excludes a token.</summary>
    internal sealed class TextSet(string name, int[] tokens, PositionKind[] kinds, float[] entropies, bool resultsOnly)
    {
        public string Name { get; } = name;
        public int[] Tokens { get; } = tokens;
        public PositionKind[] Kinds { get; } = kinds;
        public float[] KeyEntropies { get; } = resultsOnly ? [.. entropies.Select((h, i) => kinds[i] == PositionKind.Result ? h : float.NaN)] : entropies;

        /// <summary>Entropies that put every token of one kind in the hard band and nothing else anywhere:
        /// the evaluator's hard-tier accuracy is then the accuracy on that kind.</summary>
        public float[] Only(PositionKind kind) => [.. Kinds.Select(k => k == kind ? 9f : float.NaN)];
    }

    internal sealed record Evaluation(NextTokenEvaluation Tiers, double Results, double Operands, double Text, double NtpLoss);

    internal sealed record TrainedRun(List<MidTrainStepStats> History, double Seconds, double RolloutTokens);

    internal readonly record struct Stat(double Mean, double Variance, int Count)
    {
        public string Format(string format, double scale) => Count > 1
            ? string.Create(CultureInfo.InvariantCulture, $"{(Mean * scale).ToString(format, CultureInfo.InvariantCulture)} ± {(Math.Sqrt(Variance) * scale).ToString(format, CultureInfo.InvariantCulture)}")
            : (Mean * scale).ToString(format, CultureInfo.InvariantCulture);
    }

    internal sealed record MethodResult(string Label, List<Evaluation> Evaluations, IReadOnlyList<MidTrainStepStats>? History, double[] Seconds, double[] RolloutTokens)
    {
        /// <summary>Mean and sample variance over seeds.</summary>
        public Stat Stat(Func<Evaluation, double> metric)
        {
            var values = Evaluations.Select(metric).ToArray();
            double mean = values.Average();
            double variance = values.Length > 1 ? values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1) : 0;
            return new Stat(mean, variance, values.Length);
        }

        public string Pct(Func<Evaluation, double> metric) => Stat(metric).Format("F2", 100);
    }
}
