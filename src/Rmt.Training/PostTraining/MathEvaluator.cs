using Rmt.Training.Generation;
using Rmt.Training.Model;
using Rmt.Training.MidTraining;
using Rmt.Training.Tokenizers;

namespace Rmt.Training.PostTraining;

/// <summary>Held-out scores of one checkpoint. Accuracy is greedy (argmax decoding, one answer per
/// problem); pass@k uses <see cref="Samples"/> temperature samples per problem and the unbiased
/// estimator; SampledAccuracy is the fraction of those samples that are right (pass@1 when sampling).</summary>
public sealed record MathEvaluation(
    int Problems,
    double Accuracy,
    double PassAtK,
    int K,
    int Samples,
    double SampledAccuracy,
    double FormatRate,               // greedy completions that are well formed
    double MeanCompletionTokens,     // greedy completions
    double TruncatedRate,            // greedy completions that hit max new tokens without end-of-text
    IReadOnlyList<MathSample> Examples);

/// <summary>One greedy answer, kept for reports.</summary>
public sealed record MathSample(string Question, string Reference, string Completion, bool Correct);

/// <summary>Scores a model on held-out problems: greedy accuracy and pass@k (see
/// <see cref="MathEvaluation"/>). Prompts are batched; sampling is seeded, so the same checkpoint,
/// problems and seed give the same numbers.</summary>
public sealed class MathEvaluator
{
    private const int RowsPerBatch = 64;   // generation rows per batch: keeps the KV cache small on CPU
    private readonly CausalLM model;
    private readonly ITokenizer tokenizer;
    private readonly int maxNewTokens;
    private readonly double temperature;
    private readonly int k;
    private readonly int samples;

    public MathEvaluator(CausalLM model, ITokenizer tokenizer, int maxNewTokens, double temperature, int passAtK, int samples)
    {
        if (samples < passAtK) throw new ArgumentException($"pass@{passAtK} needs at least {passAtK} samples per problem, got {samples}", nameof(samples));
        this.model = model;
        this.tokenizer = tokenizer;
        this.maxNewTokens = maxNewTokens;
        this.temperature = temperature;
        k = passAtK;
        this.samples = samples;
    }

    public MathEvaluation Evaluate(IReadOnlyList<MathProblem> problems, long seed, int examplesToKeep = 3) => InEvalMode(problems, seed, (sampler, prompts, references) =>
    {
        var greedy = Generate(sampler, prompts, repeats: 1, GreedyOptions);
        var sampled = Generate(sampler, prompts, repeats: samples, new SamplingOptions(maxNewTokens, Temperature: temperature, StopTokens: [tokenizer.EndOfText]));

        int correct = 0, wellFormed = 0, truncated = 0;
        double tokens = 0, passAtK = 0, sampledCorrect = 0;
        var examples = new List<MathSample>();
        for (var i = 0; i < problems.Count; i++)
        {
            var (text, response, length, finished) = greedy[i];
            var right = IsRight(response, references[i]);
            correct += right ? 1 : 0;
            wellFormed += MathResponse.HasStrictFormat(response) ? 1 : 0;
            truncated += finished ? 0 : 1;
            tokens += length;
            if (examples.Count < examplesToKeep) examples.Add(new MathSample(problems[i].Question, problems[i].FinalAnswer, text, right));
            var c = 0;
            for (var s = 0; s < samples; s++) c += IsRight(sampled[i * samples + s].Response, references[i]) ? 1 : 0;
            sampledCorrect += c;
            passAtK += PassAtK.Estimate(samples, c, k);
        }
        var n = problems.Count;
        return new MathEvaluation(n, (double)correct / n, passAtK / n, k, samples, sampledCorrect / (n * samples),
            (double)wellFormed / n, tokens / n, (double)truncated / n, examples);
    });

    /// <summary>Greedy accuracy alone (the first number of <see cref="Evaluate"/>, without its samples):
    /// cheap enough to check a warm-up's progress every few steps.</summary>
    public double GreedyAccuracy(IReadOnlyList<MathProblem> problems) => InEvalMode(problems, seed: 0, (sampler, prompts, references) =>
        (double)Generate(sampler, prompts, repeats: 1, GreedyOptions).Where((g, i) => IsRight(g.Response, references[i])).Count() / problems.Count);

    private SamplingOptions GreedyOptions => new(maxNewTokens, Greedy: true, StopTokens: [tokenizer.EndOfText]);

    /// <summary>Runs <paramref name="score"/> on the encoded prompts and reference answers with the
    /// model in eval mode, restoring its mode afterwards.</summary>
    private T InEvalMode<T>(IReadOnlyList<MathProblem> problems, long seed, Func<TextSampler, int[][], MathNumber[], T> score)
    {
        if (problems.Count == 0) throw new ArgumentException("no problems to evaluate", nameof(problems));
        var wasTraining = model.training;
        model.eval();
        try
        {
            using var sampler = new TextSampler(model, seed);
            return score(sampler, problems.Select(p => MathTokens.EncodePrompt(tokenizer, p)).ToArray(), problems.Select(AnswerChecker.ReferenceValue).ToArray());
        }
        finally
        {
            model.train(wasTraining);
        }
    }

    private static bool IsRight(ParsedResponse response, MathNumber reference) =>
        MathResponse.Answer(response) is { } answer && answer.Value == reference;

    /// <summary>Completions of every prompt, each repeated <paramref name="repeats"/> times (row
    /// i * repeats + r), in batches of at most <see cref="RowsPerBatch"/> rows.</summary>
    private List<(string Text, ParsedResponse Response, int Length, bool Finished)> Generate(TextSampler sampler, int[][] prompts, int repeats, SamplingOptions options)
    {
        var rows = prompts.SelectMany(p => Enumerable.Repeat(p, repeats)).ToArray();
        var results = new List<(string, ParsedResponse, int, bool)>(rows.Length);
        for (var start = 0; start < rows.Length; start += RowsPerBatch)
        {
            var batch = rows.Skip(start).Take(RowsPerBatch).ToArray();
            var generated = sampler.Generate(batch, options);
            for (var i = 0; i < batch.Length; i++)
                results.Add((MathTokens.DecodeCompletion(tokenizer, generated.Tokens[i], generated.Lengths[i]),
                    MathResponse.Parse(tokenizer, generated.Tokens[i], generated.Lengths[i]), generated.Lengths[i], generated.Finished[i]));
        }
        return results;
    }
}
