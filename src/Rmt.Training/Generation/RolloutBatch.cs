using static TorchSharp.torch;

namespace Rmt.Training.Generation;

/// <summary>Prompts and their sampled completions as one padded batch, laid out for
/// <see cref="SequenceScorer.TokenLogProbs"/>: prompts left padded, completions right padded.
/// Column t of the (B, L-1) tensors scores token t+1, so <c>CompletionMask</c> marks exactly the
/// sampled tokens and <c>SampledLogProbs</c> holds their log-probs from generation there.</summary>
public sealed record RolloutBatch(Tensor Ids, Tensor AttentionMask, Tensor CompletionMask, Tensor SampledLogProbs, int PromptLength) : IDisposable
{
    /// <summary>Builds the batch. Ids (B, L) int64, AttentionMask (B, L) int64, CompletionMask (B, L-1)
    /// float32, SampledLogProbs (B, L-1) float32; L = longest prompt + longest completion.</summary>
    public static RolloutBatch Build(IReadOnlyList<int[]> prompts, GenerationResult result, int padTokenId, Device device)
    {
        if (prompts.Count != result.Tokens.Length)
            throw new ArgumentException($"{prompts.Count} prompts but {result.Tokens.Length} completions", nameof(result));
        int b = prompts.Count;
        int p = prompts.Max(x => x.Length);
        int c = Math.Max(1, result.Lengths.Max());
        int l = p + c;
        var ids = new long[b * l];
        var attention = new long[b * l];
        var completion = new float[b * (l - 1)];
        var logProbs = new float[b * (l - 1)];
        for (int i = 0; i < b; i++)
        {
            int offset = p - prompts[i].Length;
            for (int j = 0; j < l; j++) ids[i * l + j] = padTokenId;
            for (int j = 0; j < prompts[i].Length; j++)
            {
                ids[i * l + offset + j] = prompts[i][j];
                attention[i * l + offset + j] = 1;
            }
            for (int j = 0; j < result.Lengths[i]; j++)
            {
                ids[i * l + p + j] = result.Tokens[i][j];
                attention[i * l + p + j] = 1;
                completion[i * (l - 1) + p - 1 + j] = 1;
                logProbs[i * (l - 1) + p - 1 + j] = result.LogProbs[i][j];
            }
        }
        using var idsCpu = tensor(ids, [b, l], int64);
        using var attentionCpu = tensor(attention, [b, l], int64);
        using var completionCpu = tensor(completion, [b, l - 1], float32);
        using var logProbsCpu = tensor(logProbs, [b, l - 1], float32);
        return new RolloutBatch(
            idsCpu.to(device).DetachFromDisposeScope(),
            attentionCpu.to(device).DetachFromDisposeScope(),
            completionCpu.to(device).DetachFromDisposeScope(),
            logProbsCpu.to(device).DetachFromDisposeScope(),
            p);
    }

    public void Dispose()
    {
        Ids.Dispose();
        AttentionMask.Dispose();
        CompletionMask.Dispose();
        SampledLogProbs.Dispose();
    }
}
