using System.Globalization;
using System.Text;
using Rmt.Contracts;
using Rmt.Training.Generation;
using Rmt.Training.Model;
using Rmt.Training.Tokenizers;
using static TorchSharp.torch;

namespace Rmt.Training.MidTraining;

/// <summary>How to evaluate next-token prediction on held-out text.</summary>
public sealed record NextTokenEvalOptions(
    bool Reasoning,                  // true: greedy <think>..</think> then the answer; false: argmax of the next token (NTP)
    int? Budget = null,              // budget hint in the prompt (reasoning only); null = no hint
    int PositionsPerTier = 100,      // positions drawn from each entropy band (fewer if the band is smaller)
    int ContextTokens = 96,          // prefix tokens before each position
    int MaxReasoningTokens = 96,     // generation cap of the reasoning span
    string AnswerFormat = RolloutConfig.NextTokenFormat,
    int BatchSize = 64,              // prompts per generation / forward batch
    int Seed = 1234);                // which positions are drawn

/// <summary>Accuracy of the nested tiers (RPT's split: tier k = positions with H >= t_k) and their
/// mean, the paper's "Avg". A tier without positions is NaN and left out of the mean (NaN when
/// every tier is empty).</summary>
public sealed record TierAccuracy(double Easy, double Medium, double Hard)
{
    public double Average => new[] { Easy, Medium, Hard }.Where(double.IsFinite).DefaultIfEmpty(double.NaN).Average();
}

/// <summary>Result of one evaluation; <see cref="BandAccuracy"/> holds the raw per-band numbers
/// (disjoint bands easy / medium / hard) the nested accuracies are built from.</summary>
public sealed record NextTokenEvaluation(
    bool Reasoning, TierAccuracy Accuracy, TierAccuracy BandAccuracy, double MeanReasoningLength,
    double WellFormed, int[] BandPositions, long[] BandPopulation);

/// <summary>Next-token accuracy on held-out text by entropy tier, with reasoning (greedy through
/// &lt;think&gt;..&lt;/think&gt;) or without (argmax), and mean reasoning length (paper protocol).
/// Sampling: up to PositionsPerTier positions from each disjoint band; the nested tier accuracy is
/// then the population-weighted mean of the band accuracies at or above it, an unbiased estimate of
/// accuracy over every position of the nested tier. Reasoning length and well-formed rate are
/// population-weighted over all non-trivial positions.</summary>
public static class NextTokenEvaluator
{
    public static NextTokenEvaluation Evaluate(CausalLM model, ITokenizer tokenizer, IReadOnlyList<int> tokens, IReadOnlyList<float> entropies,
        EntropyTiers tiers, NextTokenEvalOptions options)
    {
        if (entropies.Count != tokens.Count) throw new ArgumentException($"{entropies.Count} entropies for {tokens.Count} tokens", nameof(entropies));
        var rng = new Random(options.Seed);
        var bands = new List<int>[3] { [], [], [] };
        for (int pos = 1; pos < tokens.Count; pos++)
        {
            var band = tiers.Band(entropies[pos]);
            if (EntropyTiers.IsKey(band)) bands[(int)band].Add(pos);
        }
        var population = bands.Select(b => (long)b.Count).ToArray();
        var drawn = bands.Select(b => b.OrderBy(_ => rng.Next()).Take(options.PositionsPerTier).Order().ToArray()).ToArray();

        var format = new ReasoningFormat(tokenizer, options.AnswerFormat);
        var rollouts = new NextTokenRollouts(format, options.ContextTokens);
        var accuracy = new double[3];
        var length = new double[3];
        var formed = new double[3];
        for (int band = 0; band < 3; band++)
        {
            if (drawn[band].Length == 0) continue;
            var results = options.Reasoning
                ? ScoreWithReasoning(model, tokens, drawn[band], rollouts, options)
                : ScoreArgmax(model, tokens, drawn[band], options);
            accuracy[band] = results.Average(r => r.Correct ? 1.0 : 0.0);
            length[band] = results.Average(r => (double)r.ReasoningLength);
            formed[band] = results.Average(r => r.WellFormed ? 1.0 : 0.0);
        }
        double Nested(int from)
        {
            double weight = 0, sum = 0;
            for (int band = from; band < 3; band++)
            {
                if (drawn[band].Length == 0) continue;
                weight += population[band];
                sum += population[band] * accuracy[band];
            }
            return weight == 0 ? double.NaN : sum / weight;
        }
        double Weighted(double[] values)
        {
            double w = 0, s = 0;
            for (int band = 0; band < 3; band++)
                if (drawn[band].Length > 0) { w += population[band]; s += population[band] * values[band]; }
            return w == 0 ? 0 : s / w;
        }
        return new NextTokenEvaluation(options.Reasoning,
            new TierAccuracy(Nested(0), Nested(1), Nested(2)),
            new TierAccuracy(accuracy[0], accuracy[1], accuracy[2]),
            Weighted(length), Weighted(formed), [.. drawn.Select(d => d.Length)], population);
    }

    private sealed record PositionResult(bool Correct, int ReasoningLength, bool WellFormed);

    private static List<PositionResult> ScoreArgmax(CausalLM model, IReadOnlyList<int> tokens, int[] positions, NextTokenEvalOptions o)
    {
        var results = new List<PositionResult>();
        using var guard = no_grad();
        foreach (var chunk in positions.Chunk(o.BatchSize))
        {
            using var scope = NewDisposeScope();
            int width = chunk.Max(p => Math.Min(p, o.ContextTokens));
            var ids = new long[chunk.Length * width];
            var mask = new long[chunk.Length * width];
            for (int i = 0; i < chunk.Length; i++)
            {
                int start = Math.Max(0, chunk[i] - o.ContextTokens), n = chunk[i] - start, offset = width - n;
                for (int j = 0; j < n; j++) { ids[i * width + offset + j] = tokens[start + j]; mask[i * width + offset + j] = 1; }
            }
            var input = tensor(ids, [chunk.Length, width], int64).to(model.Device);      // (B, W) left-padded
            var keyMask = tensor(mask, [chunk.Length, width], int64).to(model.Device);   // (B, W)
            var logits = model.Forward(input, Positions.FromMask(keyMask), keyMask);      // (B, W, V)
            var predicted = logits[.., -1].argmax(-1).cpu().data<long>().ToArray();       // (B)
            for (int i = 0; i < chunk.Length; i++) results.Add(new PositionResult(predicted[i] == tokens[chunk[i]], 0, true));
        }
        return results;
    }

    private static List<PositionResult> ScoreWithReasoning(CausalLM model, IReadOnlyList<int> tokens, int[] positions, NextTokenRollouts rollouts, NextTokenEvalOptions o)
    {
        var results = new List<PositionResult>();
        var reward = new ExactMatchReward(rollouts.Format.Tokenizer, o.AnswerFormat);
        using var sampler = new TextSampler(model, o.Seed);
        var sampling = rollouts.Options(o.MaxReasoningTokens, 1.0, 1.0, greedy: true);
        foreach (var chunk in positions.Chunk(o.BatchSize))
        {
            var keys = chunk.Select(p => rollouts.At(tokens, p, o.Budget)).ToArray();
            foreach (var r in rollouts.Generate(sampler, keys, 1, sampling))
                results.Add(new PositionResult(reward.Score(r.Parsed, r.Key.Context) == 1.0, r.Parsed.ReasoningTokens, r.Parsed.WellFormed));
        }
        return results;
    }

    /// <summary>The paper's table: one row per method, easy / medium / hard / average accuracy (%) and
    /// mean reasoning length; and the share of well-formed responses (&lt;/think&gt; then an answer),
    /// which tells a model that cannot reason from one that does not finish its reasoning.</summary>
    public static string MarkdownTable(IEnumerable<(string Method, NextTokenEvaluation Result)> rows)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| Method | Easy | Medium | Hard | Avg | Reasoning length | Well-formed |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (var (method, r) in rows)
        {
            string len = r.Reasoning ? r.MeanReasoningLength.ToString("F1", CultureInfo.InvariantCulture) : "0 (argmax)";
            string formed = r.Reasoning ? (100 * r.WellFormed).ToString("F0", CultureInfo.InvariantCulture) + "%" : "-";
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {method} | {100 * r.Accuracy.Easy:F2} | {100 * r.Accuracy.Medium:F2} | {100 * r.Accuracy.Hard:F2} | {100 * r.Accuracy.Average:F2} | {len} | {formed} |"));
        }
        // Rows on the same text and entropies score the same positions: say how many, so that a tier
        // resting on a handful of positions is not read as a measurement.
        if (rows.FirstOrDefault().Result is { } first)
            sb.AppendLine().AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"Positions scored per band (of all in the band): easy {first.BandPositions[0]} of {first.BandPopulation[0]}, medium {first.BandPositions[1]} of {first.BandPopulation[1]}, hard {first.BandPositions[2]} of {first.BandPopulation[2]}."));
        return sb.ToString();
    }
}
