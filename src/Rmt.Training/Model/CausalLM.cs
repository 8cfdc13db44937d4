using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Rmt.Training.Model;

/// <summary>Grouped-query self-attention with rotary embeddings; Qwen2 biases on q/k/v, Qwen3
/// per-head RMSNorm on q and k before rotation.</summary>
public sealed class Attention : nn.Module
{
    private readonly ModelConfig c;
    private readonly Dense qProj, kProj, vProj, oProj;
    private readonly RmsNorm? qNorm, kNorm;

    public Attention(ModelConfig config) : base(nameof(Attention))
    {
        c = config;
        qProj = new Dense(c.HiddenSize, c.NumHeads * c.HeadDim, c.QkvBias);
        kProj = new Dense(c.HiddenSize, c.NumKvHeads * c.HeadDim, c.QkvBias);
        vProj = new Dense(c.HiddenSize, c.NumKvHeads * c.HeadDim, c.QkvBias);
        oProj = new Dense(c.NumHeads * c.HeadDim, c.HiddenSize, c.OutputBias);
        register_module("q_proj", qProj);
        register_module("k_proj", kProj);
        register_module("v_proj", vProj);
        register_module("o_proj", oProj);
        if (c.QkNorm)
        {
            qNorm = new RmsNorm(c.HeadDim, c.RmsNormEps);
            kNorm = new RmsNorm(c.HeadDim, c.RmsNormEps);
            register_module("q_norm", qNorm);
            register_module("k_norm", kNorm);
        }
    }

    internal Dense OutputProjection => oProj;

    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, bool isCausal, KvCache? cache, int layer)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        var q = qProj.forward(x).view(b, t, c.NumHeads, c.HeadDim);       // (B, T, H, hd)
        var k = kProj.forward(x).view(b, t, c.NumKvHeads, c.HeadDim);     // (B, T, Hkv, hd)
        var v = vProj.forward(x).view(b, t, c.NumKvHeads, c.HeadDim);     // (B, T, Hkv, hd)
        if (qNorm is not null) q = qNorm.forward(q);
        if (kNorm is not null) k = kNorm.forward(k);
        q = Rotary.Apply(q.transpose(1, 2), cos, sin);                     // (B, H, T, hd)
        k = Rotary.Apply(k.transpose(1, 2), cos, sin);                     // (B, Hkv, T, hd)
        v = v.transpose(1, 2);                                             // (B, Hkv, T, hd)
        if (cache is not null) (k, v) = cache.Append(layer, k, v);        // (B, Hkv, S, hd)
        Tensor y;
        if (c.KvGroups > 1 && t == 1 && !isCausal)
        {
            // Decode step: the G query heads of a KV head become G query rows, so the cache is
            // read in place instead of copied G times (mask (B, 1, 1, S) broadcasts over them).
            var grouped = q.reshape(b, c.NumKvHeads, c.KvGroups, c.HeadDim); // (B, Hkv, G, hd)
            y = F.scaled_dot_product_attention(grouped, k, v, mask, 0.0, false) // (B, Hkv, G, hd)
                .reshape(b, c.NumHeads, 1, c.HeadDim);                       // (B, H, 1, hd)
        }
        else
        {
            if (c.KvGroups > 1)
            {
                k = k.repeat_interleave(c.KvGroups, 1);                    // (B, H, S, hd)
                v = v.repeat_interleave(c.KvGroups, 1);                    // (B, H, S, hd)
            }
            y = F.scaled_dot_product_attention(q, k, v, mask, 0.0, isCausal); // (B, H, T, hd)
        }
        y = y.transpose(1, 2).reshape(b, t, c.NumHeads * c.HeadDim);       // (B, T, H*hd)
        return oProj.forward(y).MoveToOuterDisposeScope();                 // (B, T, C)
    }
}

/// <summary>Pre-norm decoder block: x + attn(norm(x)), then h + mlp(norm(h)).</summary>
public sealed class DecoderLayer : nn.Module
{
    private readonly RmsNorm inputNorm, postAttentionNorm;
    private readonly Attention attention;
    private readonly SwiGluMlp mlp;

    public DecoderLayer(ModelConfig c) : base(nameof(DecoderLayer))
    {
        inputNorm = new RmsNorm(c.HiddenSize, c.RmsNormEps);
        attention = new Attention(c);
        postAttentionNorm = new RmsNorm(c.HiddenSize, c.RmsNormEps);
        mlp = new SwiGluMlp(c);
        register_module("input_layernorm", inputNorm);
        register_module("self_attn", attention);
        register_module("post_attention_layernorm", postAttentionNorm);
        register_module("mlp", mlp);
    }

    internal Attention SelfAttention => attention;

    /// <summary>x (B, T, C) residual stream in float32 (or the model dtype); compute may be bf16.</summary>
    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, bool isCausal, KvCache? cache, int layer, ScalarType compute)
    {
        using var scope = NewDisposeScope();
        var h = inputNorm.forward(x).to(compute);                                          // (B, T, C)
        x = x + attention.Forward(h, cos, sin, mask, isCausal, cache, layer).to(x.dtype);  // (B, T, C)
        h = postAttentionNorm.forward(x).to(compute);                                      // (B, T, C)
        x = x + mlp.forward(h).to(x.dtype);                                                // (B, T, C)
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>The "model." part of a Hugging Face *ForCausalLM: embeddings, layers, final norm.</summary>
public sealed class DecoderStack : nn.Module
{
    public DecoderStack(ModelConfig c) : base(nameof(DecoderStack))
    {
        EmbedTokens = new Embedding(c.VocabSize, c.HiddenSize);
        Layers = new ModuleList<DecoderLayer>([.. Enumerable.Range(0, c.NumLayers).Select(_ => new DecoderLayer(c))]);
        Norm = new RmsNorm(c.HiddenSize, c.RmsNormEps);
        register_module("embed_tokens", EmbedTokens);
        register_module("layers", Layers);
        register_module("norm", Norm);
    }

    public Embedding EmbedTokens { get; }
    public ModuleList<DecoderLayer> Layers { get; }
    public RmsNorm Norm { get; }
}

/// <summary>Decoder-only causal language model compatible with Hugging Face llama / qwen2 / qwen3
/// checkpoints. Parameter names equal the safetensors keys (model.layers.0.self_attn.q_proj.weight,
/// ..., lm_head.weight when untied). Load with <see cref="ModelIO.Load"/>, build fresh with
/// <see cref="CausalLM(ModelConfig, long?)"/>.</summary>
public sealed class CausalLM : nn.Module
{
    private readonly DecoderStack model;
    private readonly Dense? lmHead;

    /// <summary>Builds a model with random weights (normal(0, 0.02), residual projections scaled by
    /// 1/sqrt(2L) as in GPT-2, norms at 1, biases at 0), seeded when <paramref name="seed"/> is set.</summary>
    public CausalLM(ModelConfig config, long? seed = null) : this(config, initialize: true, seed) { }

    internal CausalLM(ModelConfig config, bool initialize, long? seed) : base(nameof(CausalLM))
    {
        config.Validate();
        Config = config;
        model = new DecoderStack(config);
        register_module("model", model);
        if (!config.TieWordEmbeddings)
        {
            lmHead = new Dense(config.HiddenSize, config.VocabSize, hasBias: false);
            register_module("lm_head", lmHead);
        }
        if (initialize) InitializeWeights(seed);
    }

    public ModelConfig Config { get; }

    /// <summary>dtype of matrix multiplications and attention. Equal to the parameter dtype by
    /// default; set to bfloat16 on CUDA for autocast-style mixed precision (float32 master weights,
    /// float32 norms, residual stream and logits).</summary>
    public ScalarType? ComputeDtype { get; set; }

    /// <summary>dtype the weights are written in by <see cref="ModelIO.Save"/> unless told otherwise:
    /// the dtype of the file they were loaded from, float32 for fresh models.</summary>
    public ScalarType StorageDtype { get; set; } = ScalarType.Float32;

    public Device Device => model.EmbedTokens.Weight.device;
    public ScalarType ParameterDtype => model.EmbedTokens.Weight.dtype;
    public long ParameterCount => parameters().Sum(p => p.numel());

    private void InitializeWeights(long? seed)
    {
        using var guard = no_grad();
        using var generator = seed is long s ? new Generator((ulong)s) : null;
        double residualStd = 0.02 / Math.Sqrt(2.0 * Config.NumLayers);
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith("norm.weight", StringComparison.Ordinal)) p.fill_(1.0);
            else if (name.EndsWith(".bias", StringComparison.Ordinal)) p.zero_();
            else if (name.EndsWith("o_proj.weight", StringComparison.Ordinal) || name.EndsWith("down_proj.weight", StringComparison.Ordinal))
                p.normal_(0.0, residualStd, generator);
            else p.normal_(0.0, 0.02, generator);
        }
    }

    /// <summary>Final hidden states (B, T, C) after the last norm.</summary>
    /// <param name="inputIds">(B, T) int64 token ids.</param>
    /// <param name="positionIds">(B, T) int64 positions; default past..past+T-1 for every row.</param>
    /// <param name="attentionMask">(B, S) 1 for real tokens and 0 for padding, over every position the
    /// attention sees (cached ones included, S = past + T); null when there is no padding.</param>
    /// <param name="cache">KV cache to read and extend (inference only).</param>
    public Tensor ForwardHidden(Tensor inputIds, Tensor? positionIds = null, Tensor? attentionMask = null, KvCache? cache = null)
    {
        if (inputIds.dim() != 2) throw new ArgumentException($"input ids must be (batch, time); got shape [{string.Join(", ", inputIds.shape)}]", nameof(inputIds));
        long b = inputIds.shape[0], t = inputIds.shape[1];
        int past = cache?.Length ?? 0;
        if (past + t > Config.MaxPositionEmbeddings)
            throw new ArgumentException(
                $"sequence of {past + t} tokens is longer than the model context ({Config.MaxPositionEmbeddings}); shorten the prompt or the generation", nameof(inputIds));
        if (cache is not null && is_grad_enabled())
            throw new InvalidOperationException("the KV cache is for inference; run generation under torch.no_grad()");

        using var scope = NewDisposeScope();
        var positions = positionIds ?? arange(past, past + t, dtype: int64, device: inputIds.device).unsqueeze(0).expand(b, t); // (B, T)
        var (cos, sin) = Rotary.Tables(positions, Config);     // (B, 1, T, hd)
        var (mask, isCausal) = AttentionMask(attentionMask, b, t, past, inputIds.device); // (B, 1, T, S) or causal flag
        var compute = ComputeDtype ?? ParameterDtype;

        var x = model.EmbedTokens.forward(inputIds);                                    // (B, T, C)
        for (int i = 0; i < model.Layers.Count; i++)
            x = model.Layers[i].Forward(x, cos, sin, mask, isCausal, cache, i, compute);  // (B, T, C)
        cache?.Advance((int)t);
        return model.Norm.forward(x).MoveToOuterDisposeScope();                         // (B, T, C)
    }

    /// <summary>Logits (B, T, V) in float32 from hidden states (B, T, C).</summary>
    public Tensor Logits(Tensor hidden)
    {
        var compute = ComputeDtype ?? ParameterDtype;
        using var h = hidden.to(compute);
        if (lmHead is not null)
        {
            using var projected = lmHead.forward(h);                                    // (B, T, V)
            return projected.to(float32);
        }
        var table = model.EmbedTokens.Weight;                                           // (V, C)
        using var w = WeightCastCache.Cast(table, compute);
        using var tied = F.linear(h, w);                                                // (B, T, V)
        return tied.to(float32);
    }

    /// <summary>Logits (B, T, V) float32 for input ids (B, T); see <see cref="ForwardHidden"/>.</summary>
    public Tensor Forward(Tensor inputIds, Tensor? positionIds = null, Tensor? attentionMask = null, KvCache? cache = null)
    {
        using var hidden = ForwardHidden(inputIds, positionIds, attentionMask, cache);
        return Logits(hidden);
    }

    /// <summary>Boolean mask (B, 1, T, S), true = may attend: causal over absolute cache positions,
    /// padding keys hidden. A query may always see itself, so rows of padding stay finite.</summary>
    private static (Tensor? Mask, bool IsCausal) AttentionMask(Tensor? keyMask, long b, long t, int past, Device device)
    {
        if (keyMask is null)
        {
            if (past == 0) return (null, t > 1);
            if (t == 1) return (null, false);
        }
        long s = past + t;
        if (keyMask is not null && (keyMask.shape[0] != b || keyMask.shape[1] != s))
            throw new ArgumentException($"attention mask must be (batch, past + time) = ({b}, {s}); got [{string.Join(", ", keyMask.shape)}]", nameof(keyMask));
        var queryPos = arange(past, s, dtype: int64, device: device).view(t, 1);      // (T, 1)
        var keyPos = arange(0, s, dtype: int64, device: device).view(1, s);           // (1, S)
        var allowed = keyPos <= queryPos;                                              // (T, S)
        if (keyMask is null) return (allowed.view(1, 1, t, s).expand(b, 1, t, s), false);
        var valid = keyMask.to(@bool).view(b, 1, 1, s);                               // (B, 1, 1, S)
        var self = (keyPos == queryPos).view(1, 1, t, s);                             // (1, 1, T, S)
        return ((allowed.view(1, 1, t, s) & valid) | self, false);                    // (B, 1, T, S)
    }
}
