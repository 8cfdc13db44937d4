using Rmt.Training.Rl;

namespace Rmt.Training.Tests.Rl;

public sealed class GroupAdvantagesTests
{
    [Fact]
    public void Equal_rewards_give_zero_advantages_without_NaN()
    {
        var a = GroupAdvantages.Compute([0.3, 0.3, 0.3, 0.3, 0, 0, 0, 0, 1, 1, 1, 1], 4, 1e-4);
        Assert.All(a, x => Assert.Equal(0.0, x));
    }

    [Fact]
    public void Advantages_are_centred_and_scaled_by_the_group_std_plus_delta()
    {
        // group [1, 0]: mean 0.5, population std 0.5
        var a = GroupAdvantages.Compute([1.0, 0.0, 2.0, 2.0], 2, 0.5);
        Assert.Equal(0.5, a[0], 12);   // 0.5 / (0.5 + 0.5)
        Assert.Equal(-0.5, a[1], 12);
        Assert.Equal(0.0, a[2]);
        Assert.Equal(0.0, a[3]);
        var b = GroupAdvantages.Compute([1.0, 0.0, 0.0, 0.0], 4, 1e-12);
        // mean 0.25, std sqrt(0.1875)
        Assert.Equal(0.75 / Math.Sqrt(0.1875), b[0], 9);
        Assert.Equal(-0.25 / Math.Sqrt(0.1875), b[1], 9);
        Assert.Equal(0.0, b.Sum(), 9);
    }

    [Fact]
    public void Rewards_that_do_not_split_into_groups_are_rejected()
    {
        var e = Assert.Throws<ArgumentException>(() => GroupAdvantages.Compute([1.0, 0.0, 1.0], 2, 1e-4));
        Assert.Contains("groups of 2", e.Message);
    }
}
