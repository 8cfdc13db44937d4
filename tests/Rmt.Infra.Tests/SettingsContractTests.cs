using System.Text.Json.Nodes;
using Rmt.Contracts;

namespace Rmt.Infra.Tests;

/// <summary>What the Functions app and the GPU job read (Rmt.Contracts.RmtSettings) is what the
/// compiled template gives them, wired to the resources that provide each value.</summary>
[Collection(TemplateCollection.Name)]
public sealed class SettingsContractTests(CompiledTemplate template)
{
    /// <summary>Settings of the Functions host itself (not RMT code): storage and telemetry by identity.</summary>
    private static readonly string[] FunctionsHostSettings =
    [
        "AzureWebJobsStorage__accountName", "AzureWebJobsStorage__credential", "AzureWebJobsStorage__clientId",
        "APPLICATIONINSIGHTS_CONNECTION_STRING", "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    ];

    private ArmResource FunctionApp => template.Single("Microsoft.Web/sites");
    private ArmResource GpuJob => template.Single("Microsoft.App/jobs");

    private Dictionary<string, JsonNode?> AppSettings() =>
        (FunctionApp.Properties["siteConfig"]?["appSettings"]?.AsArray() ?? [])
        .Select(s => s!.AsObject())
        .ToDictionary(s => s["name"]!.GetValue<string>(), s => s["value"]);

    private Dictionary<string, JsonNode?> JobEnvironment()
    {
        var containers = GpuJob.Properties["template"]?["containers"]?.AsArray() ?? [];
        Assert.Single(containers);
        return (containers[0]!["env"]?.AsArray() ?? [])
            .Select(e => e!.AsObject())
            .ToDictionary(e => e["name"]!.GetValue<string>(), e => e["value"]);
    }

    [Fact]
    public void Main_template_compiles_without_any_diagnostic() =>
        Assert.True(template.Diagnostics.Trim().Length == 0, $"bicep build printed diagnostics:\n{template.Diagnostics}");

    [Fact]
    public void Every_setting_is_assigned_to_an_app_or_marked_local_only()
    {
        var assigned = RmtSettings.FunctionsApp.Concat(RmtSettings.GpuJob).Concat(RmtSettings.LocalOnly).ToHashSet();
        Assert.Equal(RmtSettings.All.OrderBy(s => s, StringComparer.Ordinal), assigned.OrderBy(s => s, StringComparer.Ordinal));
        Assert.Empty(RmtSettings.LocalOnly.Intersect(RmtSettings.FunctionsApp.Concat(RmtSettings.GpuJob)));
    }

    [Fact]
    public void Functions_app_gets_every_setting_it_reads()
    {
        var settings = AppSettings();
        var missing = RmtSettings.FunctionsApp.Concat(FunctionsHostSettings).Where(s => !settings.ContainsKey(s)).ToList();
        Assert.True(missing.Count == 0, $"Function App app settings lack: {string.Join(", ", missing)}");
        Assert.Equal("managedidentity", settings["AzureWebJobsStorage__credential"]?.GetValue<string>());
    }

    [Fact]
    public void Gpu_job_gets_every_setting_it_reads_and_trains_on_cuda()
    {
        var env = JobEnvironment();
        var missing = RmtSettings.GpuJob.Where(s => !env.ContainsKey(s)).ToList();
        Assert.True(missing.Count == 0, $"GPU job environment lacks: {string.Join(", ", missing)}");
        Assert.Equal("literal:cuda", template.Trace(GpuJob, env[RmtSettings.Device]));
    }

    [Fact]
    public void No_app_gets_an_rmt_setting_the_code_does_not_read()
    {
        var known = RmtSettings.All.ToHashSet();
        var unknown = AppSettings().Keys.Concat(JobEnvironment().Keys)
            .Where(n => (n.StartsWith("RMT_", StringComparison.Ordinal) || n.StartsWith("AZURE_", StringComparison.Ordinal)) && !known.Contains(n))
            .ToList();
        Assert.True(unknown.Count == 0, $"settings not in RmtSettings.All (typo, or add them to the contract): {string.Join(", ", unknown)}");
        Assert.DoesNotContain(RmtSettings.Device, AppSettings().Keys);
    }

    [Theory]
    [InlineData("AZURE_CLIENT_ID", "output:functions-identity.clientId")]
    [InlineData("AzureWebJobsStorage__clientId", "output:functions-identity.clientId")]
    [InlineData("AzureWebJobsStorage__accountName", "output:storage.name")]
    [InlineData("RMT_BLOB_SERVICE_URI", "output:storage.blobServiceUri")]
    [InlineData("RMT_QUEUE_SERVICE_URI", "output:storage.queueServiceUri")]
    [InlineData("RMT_SERVICEBUS_NAMESPACE", "output:servicebus.fullyQualifiedNamespace")]
    [InlineData("RMT_JOB_QUEUE", "output:servicebus.jobQueueName")]
    [InlineData("RMT_EVENT_TOPIC", "output:servicebus.eventTopicName")]
    [InlineData("RMT_EVENT_SUBSCRIPTION", "output:servicebus.eventSubscriptionName")]
    [InlineData("RMT_SCHEDULE_CRON", "parameter:scheduleCron")]
    [InlineData("RMT_SCHEDULE_REQUEST", "parameter:scheduleRequest")]
    public void Functions_settings_are_wired_to_the_resources_that_provide_them(string setting, string source) =>
        Assert.Equal(source, template.Trace(FunctionApp, AppSettings()[setting]));

    [Theory]
    [InlineData("AZURE_CLIENT_ID", "output:job-identity.clientId")]
    [InlineData("RMT_BLOB_SERVICE_URI", "output:storage.blobServiceUri")]
    [InlineData("RMT_QUEUE_SERVICE_URI", "output:storage.queueServiceUri")]
    [InlineData("RMT_SERVICEBUS_NAMESPACE", "output:servicebus.fullyQualifiedNamespace")]
    [InlineData("RMT_JOB_QUEUE", "output:servicebus.jobQueueName")]
    [InlineData("RMT_EVENT_TOPIC", "output:servicebus.eventTopicName")]
    public void Gpu_job_settings_are_wired_to_the_resources_that_provide_them(string setting, string source) =>
        Assert.Equal(source, template.Trace(GpuJob, JobEnvironment()[setting]));

    [Fact]
    public void Messaging_entities_carry_the_contract_default_names()
    {
        var variables = template.Root["variables"]!;
        Assert.Equal(RmtSettings.DefaultJobQueue, variables["jobQueueName"]?.GetValue<string>());
        Assert.Equal(RmtSettings.DefaultEventTopic, variables["eventTopicName"]?.GetValue<string>());
        Assert.Equal(RmtSettings.DefaultEventSubscription, variables["eventSubscriptionName"]?.GetValue<string>());
        var servicebus = template.Single("Microsoft.Resources/deployments", d => d.Node["name"]?.GetValue<string>() == "servicebus");
        Assert.Equal("[variables('jobQueueName')]", servicebus.Properties["parameters"]?["jobQueueName"]?["value"]?.GetValue<string>());
        Assert.Equal("[variables('eventTopicName')]", servicebus.Properties["parameters"]?["eventTopicName"]?["value"]?.GetValue<string>());
        Assert.Equal("[variables('eventSubscriptionName')]", servicebus.Properties["parameters"]?["eventSubscriptionName"]?["value"]?.GetValue<string>());
    }

    [Fact]
    public void Artifact_containers_are_the_blob_layout_containers()
    {
        var storage = template.Single("Microsoft.Resources/deployments", d => d.Node["name"]?.GetValue<string>() == "storage");
        var containers = storage.Properties["template"]?["parameters"]?["artifactContainers"]?["defaultValue"]?.AsArray()
            .Select(c => c!.GetValue<string>()).ToList();
        Assert.Equal(BlobLayout.Containers, containers);
    }

    [Fact]
    public void Default_schedule_submits_a_valid_pipeline_request()
    {
        var json = template.MainParameter("scheduleRequest")["defaultValue"]!.GetValue<string>();
        var request = RmtJson.ParseRequest(json, "main.bicep parameter scheduleRequest");
        Assert.Equal("datasets/demo/corpus.txt", request.Datasets.MidTrain);
        var cron = template.MainParameter("scheduleCron")["defaultValue"]!.GetValue<string>();
        Assert.Equal(6, cron.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length); // NCRONTAB with seconds
    }
}
