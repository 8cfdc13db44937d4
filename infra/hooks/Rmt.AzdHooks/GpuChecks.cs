using System.Text.Json.Nodes;

namespace Rmt.AzdHooks;

/// <summary>What a check found: whether provisioning may go on, and what to tell the user.</summary>
public sealed record CheckResult(bool Ok, string Message);

/// <summary>
/// The two GPU checks of an RMT deployment, as pure functions of the Azure CLI's JSON output:
/// <list type="bullet">
/// <item>before provisioning, that the region offers the chosen serverless GPU workload profile
/// (<c>az containerapp env workload-profile list-supported --location REGION</c>);</item>
/// <item>after provisioning, that the new Container Apps environment has GPU quota. Serverless GPU
/// quota is per managed environment ("Managed Environment Consumption NCA100 / T4 GPUs") and can only
/// be requested once the environment exists (<c>az containerapp env list-usages</c>).</item>
/// </list>
/// </summary>
public static class GpuChecks
{
    /// <summary>The workload profiles of main.bicep's gpuProfileType.</summary>
    public static readonly IReadOnlyList<string> GpuProfiles = ["Consumption-GPU-NC24-A100", "Consumption-GPU-NC8as-T4"];

    public const string DefaultProfile = "Consumption-GPU-NC24-A100";

    /// <summary>Checks the list of workload profile types <paramref name="location"/> supports.</summary>
    public static CheckResult Region(string supportedJson, string location, string profile)
    {
        if (!GpuProfiles.Contains(profile))
            return new CheckResult(false,
                $"RMT_GPU_PROFILE is '{profile}'; use one of {string.Join(", ", GpuProfiles)}: azd env set RMT_GPU_PROFILE {DefaultProfile}");
        var names = ProfileNames(supportedJson);
        if (names.Contains(profile, StringComparer.OrdinalIgnoreCase))
            return new CheckResult(true, $"region {location} offers the serverless GPU profile {profile}");
        var gpus = names.Where(n => n.Contains("GPU", StringComparison.OrdinalIgnoreCase)).ToList();
        var fix = gpus.Count > 0
            ? $"this region offers {string.Join(", ", gpus)}: azd env set RMT_GPU_PROFILE {gpus[0]}, or choose another region"
            : "this region offers no serverless GPU profile";
        return new CheckResult(false,
            $"region {location} does not offer the serverless GPU profile {profile}; {fix}: azd env set AZURE_LOCATION <region> " +
            "(check a region with: az containerapp env workload-profile list-supported --location <region> -o table)");
    }

    /// <summary>Checks the quota usages of the environment for the GPU type of <paramref name="profile"/>.
    /// Never fails provisioning (the environment is what the quota request needs); the message says
    /// whether GPU jobs can start and, if not, exactly what to request.</summary>
    public static CheckResult Quota(string usagesJson, string profile, string environmentName, string resourceGroup, int gpusNeeded)
    {
        var gpuKey = profile.Contains("T4", StringComparison.OrdinalIgnoreCase) ? "T4" : "A100";
        var usages = Usages(usagesJson);
        var usage = usages.FirstOrDefault(u => u.Name.Contains(gpuKey, StringComparison.OrdinalIgnoreCase)
                                               && u.Name.Contains("GPU", StringComparison.OrdinalIgnoreCase));
        var request =
            $"request it for this environment: Azure portal > Quotas > Azure Container Apps, filter on environment '{environmentName}' " +
            $"(resource group {resourceGroup}), quota 'Managed Environment Consumption {(gpuKey == "T4" ? "T4" : "NCA100")} GPUs', new limit {gpusNeeded} " +
            "(one GPU per concurrent execution, parameter gpuMaxExecutions); then start the pipeline. " +
            "A new environment (azd down, then azd up) needs a new request.";
        if (usage is null)
            return new CheckResult(false,
                $"environment {environmentName} reports no {gpuKey} GPU quota (usages: {(usages.Count == 0 ? "none" : string.Join(", ", usages.Select(u => u.Name)))}); {request}");
        if (usage.Limit < gpusNeeded)
            return new CheckResult(false,
                $"environment {environmentName} has {usage.Limit} of the {gpusNeeded} {gpuKey} GPU(s) it needs ('{usage.Name}', {usage.Current} in use): GPU jobs cannot start; {request}");
        return new CheckResult(true, $"environment {environmentName} has {gpuKey} GPU quota {usage.Limit} ({usage.Current} in use, '{usage.Name}')");
    }

    /// <summary>Profile type names from list-supported: an array of { "name": ... } (the type), with
    /// the same name also under "properties" in some CLI versions.</summary>
    public static IReadOnlyList<string> ProfileNames(string json)
    {
        var items = Items(json, "az containerapp env workload-profile list-supported");
        return items
            .Select(i => i?["name"]?.GetValue<string>() ?? i?["properties"]?["name"]?.GetValue<string>())
            .OfType<string>()
            .ToList();
    }

    public sealed record Usage(string Name, double Current, double Limit);

    /// <summary>Usages from list-usages: an array (or { "value": [...] }) of { "name": { "value",
    /// "localizedValue" }, "currentValue", "limit" }.</summary>
    public static IReadOnlyList<Usage> Usages(string json) =>
        Items(json, "az containerapp env list-usages")
            .OfType<JsonObject>()
            .Select(u => new Usage(
                u["name"] is JsonObject name
                    ? $"{name["localizedValue"]?.GetValue<string>()} {name["value"]?.GetValue<string>()}".Trim()
                    : u["name"]?.GetValue<string>() ?? "",
                Number(u["currentValue"]),
                Number(u["limit"])))
            .ToList();

    private static double Number(JsonNode? node) => node?.GetValueKind() switch
    {
        System.Text.Json.JsonValueKind.Number => node.GetValue<double>(),
        System.Text.Json.JsonValueKind.String when double.TryParse(node.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture, out var v) => v,
        _ => 0,
    };

    private static JsonArray Items(string json, string command)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(json);
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new InvalidOperationException($"'{command}' did not print JSON ({e.Message}); run it by hand to see why", e);
        }
        return root switch
        {
            JsonArray array => array,
            JsonObject { } o when o["value"] is JsonArray value => value,
            _ => throw new InvalidOperationException($"'{command}' printed JSON of an unexpected shape; run it by hand to see why"),
        };
    }
}
