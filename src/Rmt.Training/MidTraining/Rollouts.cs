using Rmt.Training.Generation;

namespace Rmt.Training.MidTraining;

/// <summary>A key position made ready for reasoning: its prompt and what the reward compares with.</summary>
public sealed record KeyPosition(int Position, int[] Prompt, RewardContext Context);

/// <summary>One sampled response to a key position. <c>LogProbs[i]</c> is log pi_old of
/// <c>Response[i]</c> under the sampling temperature.</summary>
public sealed record Rollout(int Group, KeyPosition Key, int[] Response, float[] LogProbs, ParsedResponse Parsed);

/// <summary>Next-token reasoning rollouts: builds the prompt of a corpus position (up to
/// <c>contextTokens</c> tokens before it, the budget hint, &lt;think&gt;), samples G responses per
/// position in one batch with the KV-cache sampler, and parses them.</summary>
public sealed class NextTokenRollouts(ReasoningFormat format, int contextTokens, int continuationTokens = 8)
{
    public ReasoningFormat Format { get; } = format;

    public KeyPosition At(IReadOnlyList<int> corpus, int position, int? budget)
    {
        if (position < 1 || position >= corpus.Count)
            throw new ArgumentOutOfRangeException(nameof(position), position, $"a key position needs context before it and must lie inside the corpus (1..{corpus.Count - 1})");
        int start = Math.Max(0, position - contextTokens);
        var context = new int[position - start];
        for (int i = 0; i < context.Length; i++) context[i] = corpus[start + i];
        int end = Math.Min(corpus.Count, position + continuationTokens);
        var continuation = new int[end - position];
        for (int i = 0; i < continuation.Length; i++) continuation[i] = corpus[position + i];
        return new KeyPosition(position, Format.Prompt(context, budget), new RewardContext(continuation, budget));
    }

    /// <summary>Tokens one response may generate: the reasoning cap, &lt;/think&gt;, the answer
    /// (1 token, or up to 16 for a \boxed{...}) and end-of-text.</summary>
    public int MaxNewTokens(int maxReasoningTokens) => maxReasoningTokens + 1 + Format.Answer.MaxAnswerTokens + 1;

    public SamplingOptions Options(int maxReasoningTokens, double temperature, double topP, bool greedy) => new(
        MaxNewTokens: MaxNewTokens(maxReasoningTokens),
        Temperature: temperature,
        TopP: topP,
        Greedy: greedy,
        StopTokens: [Format.Tokenizer.EndOfText],
        PadTokenId: Format.Tokenizer.EndOfText);

    /// <summary>G responses for every key, laid out group by group (key 0's G, key 1's G, ...).</summary>
    public Rollout[] Generate(TextSampler sampler, IReadOnlyList<KeyPosition> keys, int groupSize, SamplingOptions options)
    {
        var prompts = new List<int[]>(keys.Count * groupSize);
        foreach (var key in keys)
            for (int g = 0; g < groupSize; g++) prompts.Add(key.Prompt);
        var result = sampler.Generate(prompts, options);
        var rollouts = new Rollout[prompts.Count];
        for (int i = 0; i < prompts.Count; i++)
        {
            var response = result.Tokens[i];
            rollouts[i] = new Rollout(i / groupSize, keys[i / groupSize], response, result.LogProbs[i], Format.Parse(response));
        }
        return rollouts;
    }
}
