namespace Rmt.Training.Generation;

/// <summary>How to sample continuations.</summary>
public sealed record SamplingOptions(
    int MaxNewTokens = 64,            // stops here if no stop token came first (capped at the model context)
    double Temperature = 1.0,         // softmax(logits / T); ignored when Greedy
    double TopP = 1.0,                // nucleus sampling mass; 1 keeps every token
    bool Greedy = false,              // argmax instead of sampling
    IReadOnlyList<int>? StopTokens = null, // a sequence ends after emitting one of these (it is kept)
    int PadTokenId = 0,               // fills left padding; never attended
    bool UseKvCache = true)           // false recomputes the whole prefix each step (reference and benchmark)
{
    public void Validate()
    {
        if (MaxNewTokens < 1) throw new ArgumentException($"maxNewTokens is {MaxNewTokens}; it must be at least 1");
        if (!Greedy && (double.IsNaN(Temperature) || Temperature <= 0))
            throw new ArgumentException($"temperature is {Temperature}; it must be positive (use Greedy for argmax)");
        if (double.IsNaN(TopP) || TopP <= 0 || TopP > 1) throw new ArgumentException($"topP is {TopP}; it must be in (0, 1]");
    }
}

/// <summary>Generated continuations. Row i holds the <c>Lengths[i]</c> new tokens of prompt i (stop
/// token included) and, for each, its log-probability under softmax(logits / temperature) before
/// top-p truncation (temperature 1 when greedy). <c>Finished[i]</c> is true when a stop token ended it.</summary>
public sealed record GenerationResult(int[][] Tokens, float[][] LogProbs, int[] Lengths, bool[] Finished);
