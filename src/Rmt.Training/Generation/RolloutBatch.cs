using static TorchSharp.torch;

namespace Rmt.Training.Generation;

/// <summary>One rollout to train on: its prompt and the first <see cref="Length"/> tokens of its
/// completion (what the policy loss covers), with their log-probs from sampling.</summary>
public readonly record struct RolloutRow(int[] Prompt, int[] Completion, float[] LogProbs, int Length);

/// <summary>Rollouts as one batch for teacher forcing (<see cref="SequenceScorer.TokenLogProbs"/>), the
/// one packer of both trainers: prompt + completion per row, right-padded with the pad token (causal
/// attention never lets a real token see the padding after it). Column t of the (B, L-1) tensors
/// scores token t+1, so <see cref="CompletionMask"/> marks exactly the completion tokens and
/// <see cref="SampledLogProbs"/> holds their sampling log-probs there. The tensors belong to the
/// caller's dispose scope (a train step's).</summary>
public sealed record RolloutBatch(Tensor Ids, Tensor CompletionMask, Tensor SampledLogProbs)
{
    /// <summary>Ids (B, L) int64, CompletionMask (B, L-1) and SampledLogProbs (B, L-1) float32, on
    /// <paramref name="device"/>; L = the longest prompt + completion (at least 2).</summary>
    public static RolloutBatch Build(IReadOnlyList<RolloutRow> rows, int padTokenId, Device device)
    {
        int n = rows.Count;
        int length = Math.Max(2, rows.Max(r => r.Prompt.Length + r.Length));
        var ids = new long[n * length];
        var mask = new float[n * (length - 1)];
        var old = new float[n * (length - 1)];
        Array.Fill(ids, padTokenId);
        for (int row = 0; row < n; row++)
        {
            var r = rows[row];
            int p = r.Prompt.Length;
            for (int j = 0; j < p; j++) ids[row * length + j] = r.Prompt[j];
            for (int j = 0; j < r.Length; j++)
            {
                ids[row * length + p + j] = r.Completion[j];           // completion token j sits at p + j
                mask[row * (length - 1) + p - 1 + j] = 1f;             // predicted from p + j - 1
                old[row * (length - 1) + p - 1 + j] = r.LogProbs[j];
            }
        }
        return new RolloutBatch(
            tensor(ids, [n, length], int64).to(device),                // (B, L)
            tensor(mask, [n, length - 1]).to(device),                  // (B, L-1)
            tensor(old, [n, length - 1]).to(device));                  // (B, L-1)
    }
}
