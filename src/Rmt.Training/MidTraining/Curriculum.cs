using Rmt.Contracts;

namespace Rmt.Training.MidTraining;

/// <summary>Difficulty of a position by the proxy model's top-k entropy H (nats).</summary>
public enum Tier
{
    /// <summary>H at or above the noise threshold (when one is set): random content that no reasoning
    /// predicts; never a key position, never scored.</summary>
    Noise = -2,

    /// <summary>H below the easy threshold: predictable without thought; never a key position.</summary>
    Trivial = -1,
    Easy = 0,
    Medium = 1,
    Hard = 2,
}

/// <summary>The tier thresholds and the two ways they are used.
/// <list type="bullet">
/// <item><b>Bands</b> (disjoint, for sampling key positions): easy = [t_easy, t_medium),
/// medium = [t_medium, t_hard), hard = [t_hard, t_noise); below t_easy is trivial, at or above the
/// optional noise threshold t_noise is noise (infinite when unset, as in the paper).</item>
/// <item><b>Nested tiers</b> (RPT's evaluation split): tier k holds every position with
/// t_k &lt;= H &lt; t_noise, so hard is inside medium is inside easy.</item>
/// </list></summary>
public sealed class EntropyTiers(double easy, double medium, double hard, double noise = double.PositiveInfinity)
{
    public EntropyTiers(CurriculumConfig c) : this(c.EasyThreshold, c.MediumThreshold, c.HardThreshold, c.NoiseThreshold ?? double.PositiveInfinity) { }

    public double Threshold(Tier tier) => tier switch
    {
        Tier.Easy => easy,
        Tier.Medium => medium,
        Tier.Hard => hard,
        _ => double.NegativeInfinity,
    };

    /// <summary>The disjoint band of an entropy (NaN = no prediction there = trivial).</summary>
    public Tier Band(double entropy) =>
        double.IsNaN(entropy) || entropy < easy ? Tier.Trivial
        : entropy >= noise ? Tier.Noise
        : entropy < medium ? Tier.Easy
        : entropy < hard ? Tier.Medium
        : Tier.Hard;

    /// <summary>True when the entropy belongs to the nested tier (H >= its threshold).</summary>
    public bool InNested(double entropy, Tier tier) => !double.IsNaN(entropy) && entropy >= Threshold(tier) && entropy < noise;

    /// <summary>True for the three bands that hold key positions (easy, medium, hard).</summary>
    public static bool IsKey(Tier tier) => tier >= Tier.Easy;
}

/// <summary>The tier distribution over training: <c>p_t1</c> until t1 = StartFraction*T, linear to
/// <c>p_t2</c> at t2 = EndFraction*T, then <c>p_t2</c> (paper). Progress is t / T for 0-based t.</summary>
public sealed class CurriculumSchedule(CurriculumConfig config, int totalSteps)
{
    public TierMix MixAt(int step)
    {
        double progress = (double)step / totalSteps;
        double t1 = config.StartFraction, t2 = config.EndFraction;
        if (progress <= t1) return config.Start;
        if (progress >= t2) return config.End;
        double a = (progress - t1) / (t2 - t1);
        return new TierMix(
            Lerp(config.Start.Easy, config.End.Easy, a),
            Lerp(config.Start.Medium, config.End.Medium, a),
            Lerp(config.Start.Hard, config.End.Hard, a));
    }

    private static double Lerp(double from, double to, double a) => from + (to - from) * a;
}

/// <summary>Draws key positions: a tier from the curriculum mix, then a position uniformly within
/// that tier's band. A tier with no positions gives its mass to the others in proportion (the mix
/// is renormalised over non-empty tiers). Curriculum off: uniform over every key position (easy,
/// medium or hard: neither trivial nor noise). When the corpus has no key position at all, uniform
/// over every eligible position.
/// Eligible positions have at least one token of context (pos >= 1).</summary>
public sealed class KeyPositionSampler
{
    private readonly int[][] bands = new int[3][];
    private readonly int[] keys;
    private readonly int[] eligible;
    private readonly CurriculumSchedule schedule;
    private readonly bool enabled;

    public KeyPositionSampler(IReadOnlyList<float> entropies, CurriculumConfig config, int totalSteps)
    {
        var tiers = new EntropyTiers(config);
        var lists = new[] { new List<int>(), new List<int>(), new List<int>() };
        var all = new List<int>();
        for (int pos = 1; pos < entropies.Count; pos++)
        {
            all.Add(pos);
            var band = tiers.Band(entropies[pos]);
            if (EntropyTiers.IsKey(band)) lists[(int)band].Add(pos);
        }
        for (int i = 0; i < 3; i++) bands[i] = [.. lists[i]];
        keys = [.. lists.SelectMany(l => l).Order()];
        eligible = [.. all];
        if (eligible.Length == 0) throw new ArgumentException("the corpus needs at least two tokens to have a key position", nameof(entropies));
        schedule = new CurriculumSchedule(config, totalSteps);
        enabled = config.Enabled;
    }

    /// <summary>The mix actually used at a step, after moving the mass of empty tiers.</summary>
    public TierMix EffectiveMix(int step)
    {
        var mix = schedule.MixAt(step);
        double e = bands[0].Length > 0 ? mix.Easy : 0, m = bands[1].Length > 0 ? mix.Medium : 0, h = bands[2].Length > 0 ? mix.Hard : 0;
        double sum = e + m + h;
        if (sum <= 0)
        {
            // The scheduled tiers are empty: spread over the non-empty ones by size.
            double total = bands.Sum(b => b.Length);
            return total == 0 ? new TierMix(0, 0, 0) : new TierMix(bands[0].Length / total, bands[1].Length / total, bands[2].Length / total);
        }
        return new TierMix(e / sum, m / sum, h / sum);
    }

    public int[] Draw(int step, int count, Random rng)
    {
        var positions = new int[count];
        if (!enabled || keys.Length == 0)
        {
            var pool = keys.Length > 0 ? keys : eligible;
            for (int i = 0; i < count; i++) positions[i] = pool[rng.Next(pool.Length)];
            return positions;
        }
        var mix = EffectiveMix(step);
        for (int i = 0; i < count; i++)
        {
            double u = rng.NextDouble();
            int tier = u < mix.Easy ? 0 : u < mix.Easy + mix.Medium ? 1 : 2;
            if (bands[tier].Length == 0) tier = Array.FindLastIndex(bands, b => b.Length > 0); // rounding at the edge
            positions[i] = bands[tier][rng.Next(bands[tier].Length)];
        }
        return positions;
    }
}
