using Rmt.AzdHooks;

namespace Rmt.Infra.Tests;

/// <summary>The azd hooks' decisions (infra/hooks/Rmt.AzdHooks) on the Azure CLI's JSON output.</summary>
public sealed class GpuChecksTests
{
    // Shape of `az containerapp env workload-profile list-supported --location swedencentral -o json`.
    private const string Supported = """
        [
          { "location": "swedencentral", "name": "D4", "properties": { "category": "GeneralPurpose", "cores": 4, "memoryGiB": 16 } },
          { "location": "swedencentral", "name": "Consumption", "properties": { "category": "Consumption" } },
          { "location": "swedencentral", "name": "Consumption-GPU-NC8as-T4", "properties": { "category": "Consumption-GPU", "gpus": 1 } }
        ]
        """;

    [Fact]
    public void A_region_that_offers_the_profile_passes()
    {
        var result = GpuChecks.Region(Supported, "swedencentral", "Consumption-GPU-NC8as-T4");
        Assert.True(result.Ok, result.Message);
    }

    [Fact]
    public void A_region_without_the_profile_fails_naming_the_profiles_it_has_and_the_fix()
    {
        var result = GpuChecks.Region(Supported, "swedencentral", "Consumption-GPU-NC24-A100");
        Assert.False(result.Ok);
        Assert.Contains("region swedencentral does not offer the serverless GPU profile Consumption-GPU-NC24-A100", result.Message, StringComparison.Ordinal);
        Assert.Contains("azd env set RMT_GPU_PROFILE Consumption-GPU-NC8as-T4", result.Message, StringComparison.Ordinal);
        Assert.Contains("azd env set AZURE_LOCATION <region>", result.Message, StringComparison.Ordinal);

        var none = GpuChecks.Region("""[{ "name": "Consumption" }]""", "westeurope", "Consumption-GPU-NC24-A100");
        Assert.False(none.Ok);
        Assert.Contains("offers no serverless GPU profile", none.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_profile_fails_before_asking_azure()
    {
        var result = GpuChecks.Region("not json", "swedencentral", "Consumption-GPU-H100");
        Assert.False(result.Ok);
        Assert.Contains("use one of Consumption-GPU-NC24-A100, Consumption-GPU-NC8as-T4", result.Message, StringComparison.Ordinal);
    }

    // Shape of `az containerapp env list-usages --name ... --resource-group ... -o json`.
    private static string Usages(int a100Limit) => $$"""
        { "value": [
          { "currentValue": 0, "limit": 100, "name": { "localizedValue": "Managed Environment Cores", "value": "ManagedEnvironmentCores" }, "unit": "Count" },
          { "currentValue": 0, "limit": {{a100Limit}}, "name": { "localizedValue": "Managed Environment Consumption NCA100 Gpus", "value": "ManagedEnvironmentConsumptionNCA100Gpus" }, "unit": "Count" }
        ] }
        """;

    [Fact]
    public void Zero_gpu_quota_on_a_new_environment_prints_the_exact_request()
    {
        var result = GpuChecks.Quota(Usages(0), "Consumption-GPU-NC24-A100", "cae-abc", "rg-dev", gpusNeeded: 1);
        Assert.False(result.Ok);
        Assert.Contains("environment cae-abc has 0 of the 1 A100 GPU(s) it needs", result.Message, StringComparison.Ordinal);
        Assert.Contains("quota 'Managed Environment Consumption NCA100 GPUs', new limit 1", result.Message, StringComparison.Ordinal);
        Assert.Contains("filter on environment 'cae-abc' (resource group rg-dev)", result.Message, StringComparison.Ordinal);
        Assert.Contains("azd down, then azd up) needs a new request", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Enough_gpu_quota_passes_and_too_little_for_the_concurrency_does_not()
    {
        Assert.True(GpuChecks.Quota(Usages(1), "Consumption-GPU-NC24-A100", "cae-abc", "rg-dev", 1).Ok);
        var short2 = GpuChecks.Quota(Usages(1), "Consumption-GPU-NC24-A100", "cae-abc", "rg-dev", 2);
        Assert.False(short2.Ok);
        Assert.Contains("has 1 of the 2 A100 GPU(s)", short2.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_t4_environment_looks_for_the_t4_quota_and_says_when_there_is_none()
    {
        var result = GpuChecks.Quota(Usages(4), "Consumption-GPU-NC8as-T4", "cae-abc", "rg-dev", 1);
        Assert.False(result.Ok);
        Assert.Contains("reports no T4 GPU quota", result.Message, StringComparison.Ordinal);
        Assert.Contains("'Managed Environment Consumption T4 GPUs'", result.Message, StringComparison.Ordinal);
        var t4 = """[{ "currentValue": 0, "limit": 1, "name": { "localizedValue": "Managed Environment Consumption T4 Gpus", "value": "ManagedEnvironmentConsumptionT4Gpus" } }]""";
        Assert.True(GpuChecks.Quota(t4, "Consumption-GPU-NC8as-T4", "cae-abc", "rg-dev", 1).Ok);
    }

    [Fact]
    public void Output_that_is_not_json_names_the_command()
    {
        var e = Assert.Throws<InvalidOperationException>(() => GpuChecks.Quota("ERROR: not logged in", "Consumption-GPU-NC24-A100", "e", "g", 1));
        Assert.Contains("'az containerapp env list-usages' did not print JSON", e.Message, StringComparison.Ordinal);
    }
}
