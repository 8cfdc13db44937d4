using Rmt.Contracts;
using Rmt.Training.MidTraining;

namespace Rmt.Training.Tests.MidTraining;

[Collection(TinyReasonerCollection.Name)]
public sealed class EvaluationAndEntropyTests(TinyReasoner reasoner)
{
    [Fact]
    public void Top_k_entropy_is_NaN_at_0_finite_elsewhere_bounded_by_log_k_and_windowing_agrees_with_one_pass()
    {
        using var model = reasoner.Load();
        var tokens = TinyReasoner.Tokenizer.Encode("the answer is [budget 3]<think>abc</think>z<|endoftext|>the answer is [budget 5]<think>ab</think>w");
        var whole = TokenEntropy.Compute(model, tokens, topK: 4);
        Assert.True(float.IsNaN(whole[0]));
        Assert.All(whole[1..], h => Assert.InRange(h, 0f, (float)Math.Log(4) + 1e-4f));
        var windowed = TokenEntropy.Compute(model, tokens, topK: 4, window: 16, batchSize: 3);
        // the first window's predictions see the same prefix in both passes
        for (int i = 1; i < 16; i++) Assert.Equal(whole[i], windowed[i], 4);
        Assert.All(windowed[1..], h => Assert.False(float.IsNaN(h)));
    }

    [Fact]
    public void Entropy_cache_is_written_once_next_to_the_data_and_keyed_by_corpus_and_proxy()
    {
        var dir = TestPaths.TempDir("entropy-cache");
        var data = Path.Combine(dir, "shard-0.txt");
        int[] tokens = [1, 2, 3, 4];
        int calls = 0;
        float[] Compute() { calls++; return [float.NaN, 0.5f, 1.5f, 2.5f]; }
        var (first, cached1) = EntropyCache.LoadOrCompute(data, tokens, "proxy-a", 16, Compute);
        var (second, cached2) = EntropyCache.LoadOrCompute(data, tokens, "proxy-a", 16, Compute);
        Assert.False(cached1);
        Assert.True(cached2);
        Assert.Equal(1, calls);
        Assert.Equal(first, second);
        Assert.StartsWith(data + ".entropy-", EntropyCache.PathFor(data, tokens, "proxy-a", 16));
        Assert.NotEqual(EntropyCache.PathFor(data, tokens, "proxy-a", 16), EntropyCache.PathFor(data, tokens, "proxy-b", 16));
        Assert.NotEqual(EntropyCache.PathFor(data, tokens, "proxy-a", 16), EntropyCache.PathFor(data, [1, 2, 3, 5], "proxy-a", 16));
        EntropyCache.LoadOrCompute(data, tokens, "proxy-b", 16, Compute);
        Assert.Equal(2, calls);
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public void A_tier_without_positions_is_left_out_of_the_average()
    {
        Assert.Equal(0.75, new TierAccuracy(0.5, 1.0, double.NaN).Average, 12);
        Assert.Equal(0.5, new TierAccuracy(0.25, 0.5, 0.75).Average, 12);
        Assert.True(double.IsNaN(new TierAccuracy(double.NaN, double.NaN, double.NaN).Average));
    }

    [Fact]
    public void Evaluator_reports_nested_tiers_with_and_without_reasoning()
    {
        using var model = reasoner.Load();
        var (tokens, entropies) = TinyReasoner.AnswerCorpus('z', copies: 6);
        // make one copy's 'a' of "answer" medium and its 'n' easy, so all three bands have positions
        entropies[4] = 1.2f;
        entropies[5] = 0.7f;
        var tiers = new EntropyTiers(new CurriculumConfig());
        var options = new NextTokenEvalOptions(Reasoning: true, Budget: 4, PositionsPerTier: 10, ContextTokens: TinyReasoner.Context.Length, MaxReasoningTokens: 12);
        var withReasoning = NextTokenEvaluator.Evaluate(model, TinyReasoner.Tokenizer, tokens, entropies, tiers, options);
        Assert.Equal(new long[] { 1, 1, 6 }, withReasoning.BandPopulation);
        Assert.True(withReasoning.MeanReasoningLength > 0);
        Assert.True(withReasoning.WellFormed > 0.5);
        // nested: hard = the 'z' band alone; easy mixes all bands by population
        Assert.Equal(withReasoning.BandAccuracy.Hard, withReasoning.Accuracy.Hard, 12);
        double expectedEasy = (withReasoning.BandAccuracy.Easy + withReasoning.BandAccuracy.Medium + 6 * withReasoning.BandAccuracy.Hard) / 8;
        Assert.Equal(expectedEasy, withReasoning.Accuracy.Easy, 12);

        var argmax = NextTokenEvaluator.Evaluate(model, TinyReasoner.Tokenizer, tokens, entropies, tiers, options with { Reasoning = false });
        Assert.Equal(0.0, argmax.MeanReasoningLength);
        // after "the answer is " the model was only ever taught " [budget" next, never 'z'
        Assert.Equal(0.0, argmax.BandAccuracy.Hard);
        var table = NextTokenEvaluator.MarkdownTable([("NTP", argmax), ("NTR", withReasoning)]);
        Assert.Contains("| NTP | ", table);
        Assert.Contains("| Method | Easy | Medium | Hard | Avg | Reasoning length | Well-formed |", table);
        Assert.Contains(string.Create(System.Globalization.CultureInfo.InvariantCulture, $" | {100 * withReasoning.WellFormed:F0}% |"), table);
        Assert.Contains(string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"hard {argmax.BandPositions[2]} of {argmax.BandPopulation[2]}."), table);
    }
}
