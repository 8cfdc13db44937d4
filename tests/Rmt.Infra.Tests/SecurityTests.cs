using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Rmt.Contracts;

namespace Rmt.Infra.Tests;

/// <summary>No keys anywhere: every service is reached with a managed identity, and the template
/// neither reads, outputs nor stores a key or a connection string.</summary>
[Collection(TemplateCollection.Name)]
public sealed partial class SecurityTests(CompiledTemplate template)
{
    [GeneratedRegex(@"\blist\w*\(", RegexOptions.IgnoreCase)]
    private static partial Regex ListFunction();

    [Theory]
    [InlineData("listKeys(")]           // storage / Service Bus / any key listing
    [InlineData("listAccountSas(")]
    [InlineData("listServiceSas(")]
    [InlineData("listCredentials(")]   // registry admin credentials
    [InlineData("listConnectionStrings(")]
    [InlineData("primarySharedKey")]   // Log Analytics workspace key
    [InlineData("AccountKey=")]
    [InlineData("SharedAccessKey")]
    [InlineData("SharedAccessSignature")]
    [InlineData("DefaultEndpointsProtocol")]
    public void Template_contains_no_key_or_connection_string(string marker) =>
        Assert.DoesNotContain(marker, template.Text, StringComparison.OrdinalIgnoreCase);

    [Fact]
    public void The_azurite_connection_string_setting_is_never_set() =>
        Assert.All(RmtSettings.LocalOnly, s => Assert.DoesNotContain(s, template.Text, StringComparison.Ordinal));

    [Fact]
    public void Only_the_application_insights_connection_string_is_named_like_one()
    {
        // APPLICATIONINSIGHTS_CONNECTION_STRING carries the instrumentation key and endpoints, which
        // identify the component but authorize nothing: local auth is off on the component, so
        // ingestion needs the app identity's Entra token (APPLICATIONINSIGHTS_AUTHENTICATION_STRING).
        var names = template.Text.Split('"').Where(t => t.Contains("CONNECTION_STRING", StringComparison.OrdinalIgnoreCase)).Distinct().ToList();
        Assert.Equal(["APPLICATIONINSIGHTS_CONNECTION_STRING"], names);
        var insights = template.Single("Microsoft.Insights/components");
        Assert.True(insights.Properties["DisableLocalAuth"]?.GetValue<bool>(), "Application Insights must refuse key-only ingestion (DisableLocalAuth)");
        var site = template.Single("Microsoft.Web/sites");
        var auth = site.Properties["siteConfig"]!["appSettings"]!.AsArray()
            .Single(s => s!["name"]!.GetValue<string>() == "APPLICATIONINSIGHTS_AUTHENTICATION_STRING")!["value"]!.GetValue<string>();
        Assert.Contains("Authorization=AAD", auth, StringComparison.Ordinal);
    }

    [Fact]
    public void Storage_refuses_shared_keys_public_blobs_and_old_tls()
    {
        var storage = template.Single("Microsoft.Storage/storageAccounts");
        Assert.False(storage.Properties["allowSharedKeyAccess"]?.GetValue<bool>() ?? true, "allowSharedKeyAccess must be false");
        Assert.False(storage.Properties["allowBlobPublicAccess"]?.GetValue<bool>() ?? true, "allowBlobPublicAccess must be false");
        Assert.Equal("TLS1_2", storage.Properties["minimumTlsVersion"]?.GetValue<string>());
        Assert.True(storage.Properties["supportsHttpsTrafficOnly"]?.GetValue<bool>());
        Assert.All(template.OfType("Microsoft.Storage/storageAccounts/blobServices/containers"),
            c => Assert.Equal("None", c.Properties["publicAccess"]?.GetValue<string>()));
    }

    [Fact]
    public void Registry_admin_user_is_off()
    {
        var registry = template.Single("Microsoft.ContainerRegistry/registries");
        Assert.False(registry.Properties["adminUserEnabled"]?.GetValue<bool>() ?? true, "adminUserEnabled must be false");
        Assert.False(registry.Properties["anonymousPullEnabled"]?.GetValue<bool>() ?? true, "anonymousPullEnabled must be false");
    }

    [Fact]
    public void Service_bus_and_log_analytics_refuse_keys()
    {
        var serviceBus = template.Single("Microsoft.ServiceBus/namespaces");
        Assert.True(serviceBus.Properties["disableLocalAuth"]?.GetValue<bool>(), "Service Bus SAS keys must be off (disableLocalAuth)");
        Assert.Empty(template.OfType("Microsoft.ServiceBus/namespaces/AuthorizationRules"));
        var workspace = template.Single("Microsoft.OperationalInsights/workspaces");
        Assert.True(workspace.Properties["features"]?["disableLocalAuth"]?.GetValue<bool>(), "Log Analytics must refuse its shared key");
        var environment = template.Single("Microsoft.App/managedEnvironments");
        Assert.Equal("azure-monitor", environment.Properties["appLogsConfiguration"]?["destination"]?.GetValue<string>());
    }

    [Fact]
    public void Gpu_job_has_no_secrets_and_its_scaler_and_image_pull_use_identities()
    {
        var job = template.Single("Microsoft.App/jobs");
        var configuration = job.Properties["configuration"]!.AsObject();
        Assert.Null(configuration["secrets"]);
        var rule = Assert.Single(configuration["eventTriggerConfig"]!["scale"]!["rules"]!.AsArray())!.AsObject();
        Assert.Null(rule["auth"]);
        Assert.Equal("output:scaler-identity.id", template.Trace(job, rule["identity"]));
        var registry = Assert.Single(configuration["registries"]!.AsArray())!.AsObject();
        Assert.Null(registry["passwordSecretRef"]);
        Assert.Equal("output:job-identity.id", template.Trace(job, registry["identity"]));
        var identities = job.Node["identity"]!["userAssignedIdentities"]!.AsObject().Select(p => p.Key).ToList();
        Assert.Equal(2, identities.Count);
    }

    [Fact]
    public void Function_app_runs_as_its_user_assigned_identity()
    {
        var site = template.Single("Microsoft.Web/sites");
        Assert.Equal("UserAssigned", site.Node["identity"]?["type"]?.GetValue<string>());
        Assert.True(site.Properties["httpsOnly"]?.GetValue<bool>());
        var auth = site.Properties["functionAppConfig"]!["deployment"]!["storage"]!["authentication"]!;
        Assert.Equal("UserAssignedIdentity", auth["type"]?.GetValue<string>());
        Assert.Equal("output:functions-identity.id", template.Trace(site, auth["userAssignedIdentityResourceId"]));
    }

    [Fact]
    public void No_setting_value_carries_a_credential()
    {
        var values = template.OfType("Microsoft.Web/sites").SelectMany(s => s.Properties["siteConfig"]?["appSettings"]?.AsArray() ?? [])
            .Concat(template.OfType("Microsoft.App/jobs").SelectMany(j => j.Properties["template"]?["containers"]?.AsArray() ?? [])
                .SelectMany(c => c!["env"]?.AsArray() ?? []))
            .Select(s => s!.AsObject())
            .ToList();
        Assert.NotEmpty(values);
        foreach (var setting in values)
        {
            Assert.Null(setting["secretRef"]);
            var value = setting["value"]?.GetValue<string>() ?? "";
            foreach (var marker in new[] { "sig=", "AccountKey", "SharedAccess", "password" })
                Assert.False(value.Contains(marker, StringComparison.OrdinalIgnoreCase), $"{setting["name"]} = {value} looks like a credential ({marker})");
            Assert.False(ListFunction().IsMatch(value), $"{setting["name"]} = {value} calls a list* function (keys, SAS, credentials)");
        }
    }
}
