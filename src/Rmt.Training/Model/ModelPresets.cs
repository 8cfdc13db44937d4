namespace Rmt.Training.Model;

/// <summary>Named shapes for models trained from scratch. All are Qwen3-architecture (q/k norms
/// keep tiny models stable) with tied embeddings; the vocabulary size comes from the tokenizer.
/// <list type="table">
/// <item><term>tiny</term><description>d=128, 4 layers, 4 heads, 2 KV heads, head 32, MLP 384, context 256 (~0.8M params + embeddings): trains on a laptop CPU in minutes.</description></item>
/// <item><term>tiny-wide</term><description>d=256, 4 layers, 8 heads, 4 KV heads, head 32, MLP 768, context 256 (~3.2M + embeddings).</description></item>
/// <item><term>small</term><description>d=512, 8 layers, 8 heads, 4 KV heads, head 64, MLP 1536, context 512 (~25M + embeddings).</description></item>
/// <item><term>qwen3-110m</term><description>d=768, 12 layers, 12 heads, 4 KV heads, head 64, MLP 2048, context 2048: the PyTorch anchor shape of ../shared/gpu (vocab 32768 there).</description></item>
/// </list></summary>
public static class ModelPresets
{
    public static IReadOnlyList<string> Names { get; } = ["tiny", "tiny-wide", "small", "qwen3-110m"];

    public static ModelConfig Create(string name, int vocabSize, int? contextLength = null)
    {
        ModelConfig config = name switch
        {
            "tiny" => Shape(vocabSize, 128, 4, 4, 2, 32, 384, 256),
            "tiny-wide" => Shape(vocabSize, 256, 4, 8, 4, 32, 768, 256),
            "small" => Shape(vocabSize, 512, 8, 8, 4, 64, 1536, 512),
            "qwen3-110m" => Shape(vocabSize, 768, 12, 12, 4, 64, 2048, 2048),
            _ => throw new ArgumentException($"model preset '{name}' is unknown; use one of {string.Join(", ", Names)}", nameof(name)),
        };
        if (contextLength is int context) config = config with { MaxPositionEmbeddings = context };
        config.Validate();
        return config;
    }

    private static ModelConfig Shape(int vocab, int d, int layers, int heads, int kvHeads, int headDim, int ff, int context) =>
        new("qwen3", vocab, d, ff, layers, heads, kvHeads, headDim, context,
            RopeTheta: 10_000.0, RmsNormEps: 1e-6, TieWordEmbeddings: true, QkNorm: true);
}
