using Rmt.Training.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Rmt.Training.Generation;

/// <summary>Batched autoregressive sampling with a KV cache. Prompts of different lengths are left
/// padded; padding is hidden by the attention mask and positions count real tokens only, so each
/// row behaves exactly as if it ran alone. The sampler owns a seeded torch generator whose state
/// can be saved and restored (<see cref="RngState"/>) for resumable training.</summary>
public sealed class TextSampler : IDisposable
{
    private readonly CausalLM model;
    private readonly Generator generator;

    public TextSampler(CausalLM model, long seed)
    {
        this.model = model;
        generator = new Generator((ulong)seed, model.Device);
    }

    /// <summary>Random state of the sampler (a CPU byte tensor the caller disposes).</summary>
    public Tensor RngState
    {
        get => generator.get_state();
        set => generator.set_state(value);
    }

    public GenerationResult Generate(IReadOnlyList<int[]> prompts, SamplingOptions options)
    {
        options.Validate();
        if (prompts.Count == 0) throw new ArgumentException("no prompts given", nameof(prompts));
        int longest = prompts.Max(p => p.Length);
        if (prompts.Any(p => p.Length == 0)) throw new ArgumentException("every prompt needs at least one token", nameof(prompts));
        int context = model.Config.MaxPositionEmbeddings;
        if (longest >= context)
            throw new ArgumentException($"prompt of {longest} tokens is longer than the model context ({context}) allows; shorten it", nameof(prompts));
        int maxNew = Math.Min(options.MaxNewTokens, context - longest);   // never past the context

        int b = prompts.Count;
        int total = longest + maxNew;
        var device = model.Device;
        var stops = new HashSet<int>(options.StopTokens ?? []);
        var tokens = Enumerable.Range(0, b).Select(_ => new List<int>()).ToArray();
        var finished = new bool[b];

        using var guard = no_grad();
        using var casts = model.ComputeDtype is ScalarType c && c != model.ParameterDtype ? new WeightCastCache() : null; // bf16 weights once per call
        using var outer = NewDisposeScope();
        using var promptIds = LeftPad(prompts, longest, options.PadTokenId, device, out var promptMask); // (B, P)
        using var keyMask = zeros([b, total], int64, device);                                          // (B, P + N)
        using (var head = keyMask.narrow(1, 0, longest)) head.copy_(promptMask);
        using var positions = Positions.FromMask(promptMask);                                          // (B, P)
        using var cache = options.UseKvCache ? new KvCache(model.Config, b, total, device, model.ComputeDtype ?? model.ParameterDtype) : null;
        using var sequence = options.UseKvCache ? null : zeros([b, total], int64, device);            // (B, P + N) no-cache only
        if (sequence is not null) using (var head = sequence.narrow(1, 0, longest)) head.copy_(promptIds);
        promptMask.Dispose();

        using var sampledLogProbs = zeros([b, maxNew], float32, device);                            // (B, N)
        var logits = LastLogits(promptIds, positions, keyMask.narrow(1, 0, longest), cache);          // (B, V)
        var nextPosition = positions[.., -1].add(1).DetachFromDisposeScope();                          // (B)
        try
        {
            for (int step = 0; step < maxNew; step++)
            {
                using var scope = NewDisposeScope();
                var (next, nextLogProb) = Sample(logits, options);                                     // (B), (B)
                sampledLogProbs[.., step] = nextLogProb;                                               // stays on the device
                var nextCpu = next.cpu().data<long>().ToArray();                                       // one sync per step
                for (int i = 0; i < b; i++)
                {
                    if (finished[i]) continue;
                    tokens[i].Add((int)nextCpu[i]);
                    if (stops.Contains((int)nextCpu[i])) finished[i] = true;
                }
                if (finished.All(f => f) || step == maxNew - 1) break;

                int length = longest + step + 1;
                keyMask[.., length - 1] = 1;
                Tensor newLogits;
                if (cache is not null)
                {
                    newLogits = LastLogits(next.view(b, 1), nextPosition.view(b, 1), keyMask.narrow(1, 0, length), cache); // (B, V)
                }
                else
                {
                    sequence![.., length - 1] = next;
                    var mask = keyMask.narrow(1, 0, length);                                             // (B, L)
                    newLogits = LastLogits(sequence.narrow(1, 0, length), Positions.FromMask(mask), mask, null);
                }
                logits.Dispose();
                logits = newLogits;
                nextPosition.add_(1);
            }
        }
        finally
        {
            logits.Dispose();
            nextPosition.Dispose();
        }

        var allLogProbs = sampledLogProbs.cpu().data<float>().ToArray();
        return new GenerationResult(
            [.. tokens.Select(t => t.ToArray())],
            [.. tokens.Select((t, i) => allLogProbs.AsSpan(i * maxNew, t.Count).ToArray())],
            [.. tokens.Select(t => t.Count)],
            finished);
    }

    /// <summary>Logits of the last position (B, V) float32, detached from every dispose scope.</summary>
    private Tensor LastLogits(Tensor ids, Tensor positions, Tensor keyMask, KvCache? cache)
    {
        using var scope = NewDisposeScope();
        var hidden = model.ForwardHidden(ids, positions, keyMask, cache);             // (B, T, C)
        var last = hidden.narrow(1, hidden.shape[1] - 1, 1);                           // (B, 1, C)
        return model.Logits(last).squeeze(1).DetachFromDisposeScope();                 // (B, V)
    }

    /// <summary>Picks the next token of every row; returns it (B) and its log-prob (B).</summary>
    private (Tensor Token, Tensor LogProb) Sample(Tensor logits, SamplingOptions options)
    {
        if (options.Greedy)
        {
            var best = logits.argmax(-1);                                              // (B)
            var lp = logits.log_softmax(-1).gather(-1, best.unsqueeze(-1)).squeeze(-1); // (B)
            return (best, lp);
        }
        var scaled = options.Temperature == 1.0 ? logits : logits / options.Temperature; // (B, V)
        var logProbs = scaled.log_softmax(-1);                                         // (B, V)
        var probs = logProbs.exp();                                                    // (B, V)
        if (options.TopP < 1.0)
        {
            var (sorted, order) = probs.sort(-1, descending: true);                   // (B, V)
            var before = sorted.cumsum(-1) - sorted;                                   // mass ranked above each token
            var dropSorted = before > options.TopP;                                    // (B, V), never drops the first
            var drop = zeros_like(dropSorted).scatter(-1, order, dropSorted);          // (B, V) in vocabulary order
            probs = probs.masked_fill(drop, 0.0);
        }
        var token = multinomial(probs, 1, replacement: false, generator: generator).squeeze(-1); // (B)
        var tokenLogProb = logProbs.gather(-1, token.unsqueeze(-1)).squeeze(-1);       // (B)
        return (token, tokenLogProb);
    }

    private static Tensor LeftPad(IReadOnlyList<int[]> prompts, int length, int pad, Device device, out Tensor mask)
    {
        var ids = new long[prompts.Count * length];
        var valid = new long[prompts.Count * length];
        for (int i = 0; i < prompts.Count; i++)
        {
            int offset = length - prompts[i].Length;
            for (int j = 0; j < length; j++)
            {
                bool real = j >= offset;
                ids[i * length + j] = real ? prompts[i][j - offset] : pad;
                valid[i * length + j] = real ? 1 : 0;
            }
        }
        mask = tensor(valid, [prompts.Count, length], int64).to(device).DetachFromDisposeScope();  // (B, P)
        return tensor(ids, [prompts.Count, length], int64).to(device).DetachFromDisposeScope();    // (B, P)
    }

    public void Dispose() => generator.Dispose();
}

/// <summary>Position ids that count real tokens only: (cumsum(mask) - 1) clamped at 0, so a left
/// padded row starts at position 0 like an unpadded one.</summary>
public static class Positions
{
    public static Tensor FromMask(Tensor mask)
    {
        using var counts = mask.to(int64).cumsum(1);                                    // (B, T)
        using var shifted = counts - 1;
        return shifted.clamp_min(0);                                                   // (B, T)
    }
}
