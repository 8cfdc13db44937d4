using System.Text.Json.Nodes;
using System.Xml;

namespace Rmt.Infra.Tests;

/// <summary>The resources have the shape the code relies on (DESIGN.md section 5).</summary>
[Collection(TemplateCollection.Name)]
public sealed class ResourceShapeTests(CompiledTemplate template)
{
    private static TimeSpan Duration(JsonNode? iso8601) => XmlConvert.ToTimeSpan(iso8601!.GetValue<string>());

    [Fact]
    public void Job_queue_lock_covers_the_early_settle_and_failed_messages_are_dead_lettered()
    {
        var queue = template.Single("Microsoft.ServiceBus/namespaces/queues").Properties;
        Assert.InRange(Duration(queue["lockDuration"]), TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(5));
        Assert.True(queue["deadLetteringOnMessageExpiration"]?.GetValue<bool>());
        Assert.NotNull(queue["maxDeliveryCount"]);
        Assert.True(queue["requiresDuplicateDetection"]?.GetValue<bool>());
        Assert.False(queue["requiresSession"]?.GetValue<bool>() ?? false, "the KEDA scaler and the job receive without sessions");
    }

    [Fact]
    public void Stage_events_go_to_a_deduplicating_topic_with_a_session_subscription()
    {
        var topic = template.Single("Microsoft.ServiceBus/namespaces/topics").Properties;
        Assert.True(topic["requiresDuplicateDetection"]?.GetValue<bool>());
        Assert.True(Duration(topic["duplicateDetectionHistoryTimeWindow"]) >= TimeSpan.FromMinutes(10));
        var subscription = template.Single("Microsoft.ServiceBus/namespaces/topics/subscriptions").Properties;
        Assert.True(subscription["requiresSession"]?.GetValue<bool>(), "one session per run keeps a run's events in order");
        Assert.True(subscription["deadLetteringOnMessageExpiration"]?.GetValue<bool>());
        var serviceBus = template.Single("Microsoft.ServiceBus/namespaces");
        Assert.Equal("Standard", serviceBus.Node["sku"]?["name"]?.GetValue<string>());
    }

    [Fact]
    public void Functions_app_is_dotnet_10_isolated_on_flex_consumption()
    {
        var plan = template.Single("Microsoft.Web/serverfarms");
        Assert.Equal("FC1", plan.Node["sku"]?["name"]?.GetValue<string>());
        Assert.Equal("FlexConsumption", plan.Node["sku"]?["tier"]?.GetValue<string>());
        var site = template.Single("Microsoft.Web/sites");
        Assert.Equal("functionapp,linux", site.Node["kind"]?.GetValue<string>());
        var runtime = site.Properties["functionAppConfig"]!["runtime"]!;
        Assert.Equal("dotnet-isolated", runtime["name"]?.GetValue<string>());
        Assert.Equal("10.0", runtime["version"]?.GetValue<string>());
        Assert.Contains("'azd-service-name', 'functions'", site.Node["tags"]?.GetValue<string>() ?? "", StringComparison.Ordinal); // azd deploys here
    }

    [Theory]
    // Flex Consumption takes these from functionAppConfig and rejects them as app settings.
    [InlineData("FUNCTIONS_WORKER_RUNTIME")]
    [InlineData("FUNCTIONS_EXTENSION_VERSION")]
    [InlineData("WEBSITE_RUN_FROM_PACKAGE")]
    [InlineData("WEBSITE_CONTENTAZUREFILECONNECTIONSTRING")]
    [InlineData("WEBSITE_CONTENTSHARE")]
    [InlineData("AzureWebJobsStorage")] // the key-based connection string form
    public void Functions_app_has_no_setting_flex_consumption_rejects_or_that_needs_a_key(string setting)
    {
        var names = template.Single("Microsoft.Web/sites").Properties["siteConfig"]!["appSettings"]!.AsArray()
            .Select(s => s!["name"]!.GetValue<string>());
        Assert.DoesNotContain(setting, names);
    }

    [Fact]
    public void Gpu_job_is_started_by_the_job_queue_one_replica_at_a_time()
    {
        var job = template.Single("Microsoft.App/jobs");
        var configuration = job.Properties["configuration"]!;
        Assert.Equal("Event", configuration["triggerType"]?.GetValue<string>());
        Assert.Equal("parameter:gpuReplicaTimeoutSeconds", template.Trace(job, configuration["replicaTimeout"]));
        Assert.True(template.MainParameter("gpuReplicaTimeoutSeconds")["defaultValue"]!.GetValue<int>() >= 6 * 3600, "training runs for hours");
        Assert.NotNull(configuration["replicaRetryLimit"]);
        var trigger = configuration["eventTriggerConfig"]!;
        Assert.Equal(1, trigger["parallelism"]?.GetValue<int>());
        Assert.Equal(1, trigger["replicaCompletionCount"]?.GetValue<int>());
        Assert.Equal(0, trigger["scale"]?["minExecutions"]?.GetValue<int>());
        var rule = trigger["scale"]!["rules"]![0]!;
        Assert.Equal("azure-servicebus", rule["type"]?.GetValue<string>());
        Assert.Equal("output:servicebus.jobQueueName", template.Trace(job, rule["metadata"]!["queueName"]));
        Assert.Equal("output:servicebus.name", template.Trace(job, rule["metadata"]!["namespace"]));
    }

    [Fact]
    public void Gpu_job_runs_on_the_serverless_gpu_profile_of_its_environment()
    {
        var profile = template.MainParameter("gpuProfileType");
        Assert.Equal("Consumption-GPU-NC24-A100", profile["defaultValue"]?.GetValue<string>());
        Assert.Equal(["Consumption-GPU-NC24-A100", "Consumption-GPU-NC8as-T4"],
            profile["allowedValues"]!.AsArray().Select(v => v!.GetValue<string>()).Order(StringComparer.Ordinal));

        var environment = template.Single("Microsoft.App/managedEnvironments");
        var gpuProfiles = environment.Properties["workloadProfiles"]!.AsArray()
            .Where(p => template.Trace(environment, p!["workloadProfileType"]) == "parameter:gpuProfileType").ToList();
        var gpu = Assert.Single(gpuProfiles)!;
        var job = template.Single("Microsoft.App/jobs");
        Assert.Equal(gpu["name"]?.ToJsonString(), job.Properties["workloadProfileName"]?.ToJsonString());
        Assert.Equal("output:registry.loginServer", template.Trace(job, job.Properties["configuration"]!["registries"]![0]!["server"]));
    }

    [Fact]
    public void Container_apps_logs_reach_the_workspace_through_a_diagnostic_setting()
    {
        var setting = template.Single("Microsoft.Insights/diagnosticSettings");
        Assert.Contains("Microsoft.App/managedEnvironments", setting.Text, StringComparison.Ordinal);
        Assert.Equal("allLogs", setting.Properties["logs"]![0]!["categoryGroup"]?.GetValue<string>());
    }
}
