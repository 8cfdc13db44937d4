using System.Security.Cryptography;
using Rmt.Training.Model;
using static TorchSharp.torch;

namespace Rmt.Training.MidTraining;

/// <summary>Top-k entropy of the proxy model's prediction at every corpus position (RPT): the
/// k largest probabilities are renormalised and <c>H = -sum p log p</c> in nats. Entry i is the
/// entropy of the distribution that predicts token i from the tokens before it; entry 0 is NaN.
/// Long corpora are read in windows of the model context with half-window overlap, so every
/// prediction after the first window sees at least half a context.</summary>
public static class TokenEntropy
{
    public static float[] Compute(CausalLM proxy, IReadOnlyList<int> tokens, int topK, int? window = null, int batchSize = 16)
    {
        int w = Math.Min(window ?? proxy.Config.MaxPositionEmbeddings, proxy.Config.MaxPositionEmbeddings);
        if (w < 2) throw new ArgumentException($"window of {w} tokens is too short; it needs at least 2", nameof(window));
        int k = Math.Min(topK, proxy.Config.VocabSize);
        var result = new float[tokens.Count];
        Array.Fill(result, float.NaN);
        if (tokens.Count < 2) return result;

        int stride = Math.Max(1, w / 2);
        var starts = new List<int>();
        for (int s = 0; ; s += stride)
        {
            int start = Math.Min(s, Math.Max(0, tokens.Count - w));
            starts.Add(start);
            if (start + w >= tokens.Count) break;
        }
        using var guard = no_grad();
        for (int b = 0; b < starts.Count; b += batchSize)
        {
            using var scope = NewDisposeScope();
            var chunk = starts.Skip(b).Take(batchSize).ToArray();
            int len = Math.Min(w, tokens.Count);
            var ids = new long[chunk.Length * len];
            for (int i = 0; i < chunk.Length; i++)
                for (int j = 0; j < len; j++) ids[i * len + j] = tokens[chunk[i] + j];
            var input = tensor(ids, [chunk.Length, len], int64).to(proxy.Device);     // (b, W)
            var logits = proxy.Forward(input);                                          // (b, W, V)
            var top = logits.topk(k, -1).values;                                        // (b, W, k)
            var logP = top.log_softmax(-1);                                             // (b, W, k)
            var h = -(logP.exp() * logP).sum(-1);                                       // (b, W)
            var hCpu = h.cpu().data<float>().ToArray();
            for (int i = 0; i < chunk.Length; i++)
            {
                // Logit j predicts token start+j+1; keep predictions whose context is at least half a window
                // (all of them in the first window).
                int firstKept = chunk[i] == 0 ? 0 : Math.Max(0, len - stride - 1);
                for (int j = firstKept; j < len - 1; j++)
                {
                    int target = chunk[i] + j + 1;
                    if (float.IsNaN(result[target]) || j >= len - stride - 1) result[target] = hCpu[i * len + j];
                }
            }
        }
        return result;
    }
}

/// <summary>Entropies are computed once per corpus shard and proxy, and cached in a file next to the
/// data: <c>{data}.entropy-{key}.f32</c>, key = first 16 hex digits of SHA-256 over the corpus
/// tokens, the proxy fingerprint and the top-k. The file is raw little-endian float32 with one
/// entry per token; a file of the wrong length is recomputed.</summary>
public static class EntropyCache
{
    public static string PathFor(string dataPath, IReadOnlyList<int> tokens, string proxyFingerprint, int topK)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[tokens.Count * 4];
        for (int i = 0; i < tokens.Count; i++) BitConverter.TryWriteBytes(buffer.AsSpan(i * 4), tokens[i]);
        sha.AppendData(buffer);
        sha.AppendData(System.Text.Encoding.UTF8.GetBytes($"|proxy={proxyFingerprint}|topk={topK}"));
        var key = Convert.ToHexStringLower(sha.GetHashAndReset())[..16];
        return $"{dataPath}.entropy-{key}.f32";
    }

    /// <summary>Fingerprint of a checkpoint folder: SHA-256 of its config.json and weight files.</summary>
    public static string Fingerprint(string checkpointDir)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in Directory.GetFiles(checkpointDir).Where(f => f.EndsWith(".json", StringComparison.Ordinal) || f.EndsWith(".safetensors", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes(Path.GetFileName(file)));
            sha.AppendData(File.ReadAllBytes(file));
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>Reads the cached entropies, or computes and writes them. Returns them and whether
    /// they came from the cache.</summary>
    public static (float[] Entropies, bool Cached) LoadOrCompute(string dataPath, IReadOnlyList<int> tokens, string proxyFingerprint, int topK, Func<float[]> compute)
    {
        var path = PathFor(dataPath, tokens, proxyFingerprint, topK);
        if (File.Exists(path) && new FileInfo(path).Length == tokens.Count * 4L)
        {
            var bytes = File.ReadAllBytes(path);
            var cached = new float[tokens.Count];
            Buffer.BlockCopy(bytes, 0, cached, 0, bytes.Length);
            return (cached, true);
        }
        var entropies = compute();
        if (entropies.Length != tokens.Count)
            throw new InvalidOperationException($"entropy computation returned {entropies.Length} values for {tokens.Count} tokens");
        var output = new byte[entropies.Length * 4];
        Buffer.BlockCopy(entropies, 0, output, 0, output.Length);
        var temp = path + ".tmp";
        File.WriteAllBytes(temp, output);
        File.Move(temp, path, overwrite: true);
        return (entropies, false);
    }
}
