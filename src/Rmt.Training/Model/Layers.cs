using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Rmt.Training.Model;

// Building blocks of the decoder, registered under the Hugging Face parameter names so that
// named_parameters() is exactly the key set of model.safetensors.

/// <summary>y = x W^T + b. The weight is cast to the input's dtype, which is how bf16 autocast works
/// here: the caller hands in bf16 activations and the float32 master weights are cast per use
/// (the cast is differentiable, so gradients land on the float32 parameters).</summary>
public sealed class Dense : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;   // (out, in)
    private readonly Parameter? bias;    // (out)

    public Dense(int inFeatures, int outFeatures, bool hasBias) : base(nameof(Dense))
    {
        weight = new Parameter(empty(outFeatures, inFeatures));
        register_parameter("weight", weight);
        if (hasBias)
        {
            bias = new Parameter(zeros(outFeatures));
            register_parameter("bias", bias);
        }
    }

    public Parameter Weight => weight;

    public override Tensor forward(Tensor x)
    {
        using var w = WeightCastCache.Cast(weight, x.dtype);
        using var b = bias is null ? null : WeightCastCache.Cast(bias, x.dtype);
        return F.linear(x, w, b);   // (..., out)
    }
}

/// <summary>Root-mean-square norm as in transformers' LlamaRMSNorm: computed in float32, scaled by a
/// learned weight after casting back to the input dtype.</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;   // (C)
    private readonly double eps;

    public RmsNorm(int size, double eps) : base(nameof(RmsNorm))
    {
        weight = new Parameter(ones(size));
        register_parameter("weight", weight);
        this.eps = eps;
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var x32 = x.to(float32);                                       // (..., C)
        var variance = x32.pow(2).mean([-1L], keepdim: true);          // (..., 1)
        var normed = (x32 * rsqrt(variance + eps)).to(x.dtype);        // (..., C)
        var w = weight.dtype == x.dtype ? weight : weight.to(x.dtype);
        return (w * normed).MoveToOuterDisposeScope();
    }
}

/// <summary>Token embedding table; also the output head when embeddings are tied.</summary>
public sealed class Embedding : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;   // (V, C)

    public Embedding(int vocab, int dim) : base(nameof(Embedding))
    {
        weight = new Parameter(empty(vocab, dim));
        register_parameter("weight", weight);
    }

    public Parameter Weight => weight;

    public override Tensor forward(Tensor ids)
    {
        using var flat = ids.reshape(-1);                              // (B*T)
        using var rows = weight.index_select(0, flat);                 // (B*T, C)
        return rows.view([.. ids.shape, weight.shape[1]]);             // (B, T, C)
    }
}

/// <summary>SwiGLU feed-forward: down(silu(gate(x)) * up(x)).</summary>
public sealed class SwiGluMlp : nn.Module<Tensor, Tensor>
{
    private readonly Dense gate;
    private readonly Dense up;
    private readonly Dense down;

    public SwiGluMlp(ModelConfig c) : base(nameof(SwiGluMlp))
    {
        gate = new Dense(c.HiddenSize, c.IntermediateSize, c.MlpBias);
        up = new Dense(c.HiddenSize, c.IntermediateSize, c.MlpBias);
        down = new Dense(c.IntermediateSize, c.HiddenSize, c.MlpBias);
        register_module("gate_proj", gate);
        register_module("up_proj", up);
        register_module("down_proj", down);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = F.silu(gate.forward(x)) * up.forward(x);               // (B, T, F)
        return down.forward(h).MoveToOuterDisposeScope();              // (B, T, C)
    }
}

/// <summary>Rotary position embedding tables for given positions, transformers' default rope:
/// inv_freq = 1 / theta^(2i/d), angles duplicated as cat(freqs, freqs) (the rotate_half layout).</summary>
public static class Rotary
{
    /// <summary>Returns (cos, sin), each (B, 1, T, hd) float32, for position ids (B, T).</summary>
    public static (Tensor Cos, Tensor Sin) Tables(Tensor positionIds, ModelConfig config)
    {
        using var scope = NewDisposeScope();
        var invFreq = InverseFrequencies(config, positionIds.device);                                  // (hd/2)
        var freqs = positionIds.to(float32).unsqueeze(-1) * invFreq;                                   // (B, T, hd/2)
        var angles = cat([freqs, freqs], -1).unsqueeze(1);                                             // (B, 1, T, hd)
        return (angles.cos().MoveToOuterDisposeScope(), angles.sin().MoveToOuterDisposeScope());
    }

    /// <summary>1 / theta^(2i/d) (hd/2) float32, with Llama 3 scaling when configured.</summary>
    public static Tensor InverseFrequencies(ModelConfig config, Device device)
    {
        using var scope = NewDisposeScope();
        var exponents = arange(0, config.HeadDim, 2, dtype: int64, device: device).to(float32) / config.HeadDim; // (hd/2)
        var invFreq = 1.0f / tensor(config.RopeTheta, float32, device).pow(exponents);                          // (hd/2)
        if (config.RopeScaling is { } r)
        {
            double lowFreqWavelen = r.OriginalMaxPositionEmbeddings / r.LowFreqFactor;
            double highFreqWavelen = r.OriginalMaxPositionEmbeddings / r.HighFreqFactor;
            var wavelen = 2 * Math.PI / invFreq;                                                  // (hd/2)
            var scaled = where(wavelen > lowFreqWavelen, invFreq / r.Factor, invFreq);             // (hd/2)
            var smooth = (r.OriginalMaxPositionEmbeddings / wavelen - r.LowFreqFactor) / (r.HighFreqFactor - r.LowFreqFactor);
            var smoothed = (1 - smooth) * scaled / r.Factor + smooth * scaled;
            var medium = (wavelen >= highFreqWavelen).logical_and(wavelen <= lowFreqWavelen);
            invFreq = where(medium, smoothed, scaled);
        }
        return invFreq.MoveToOuterDisposeScope();
    }

    /// <summary>x * cos + rotate_half(x) * sin, with rotate_half(x) = cat(-x2, x1).</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        long half = x.shape[^1] / 2;
        var x1 = x.narrow(-1, 0, half);                                // (B, H, T, hd/2)
        var x2 = x.narrow(-1, half, half);                             // (B, H, T, hd/2)
        var rotated = cat([-x2, x1], -1);                              // (B, H, T, hd)
        var result = x * cos.to(x.dtype) + rotated * sin.to(x.dtype);  // (B, H, T, hd)
        return result.MoveToOuterDisposeScope();
    }
}
