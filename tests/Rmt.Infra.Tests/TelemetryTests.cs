using System.Text.Json.Nodes;
using Rmt.Contracts;

namespace Rmt.Infra.Tests;

/// <summary>Trainer telemetry in Azure Monitor: the GPU job gets the Application Insights connection
/// string and may publish to that component with its own identity, and the workbook queries exactly the
/// span, tag and metric names the job emits (Rmt.Contracts.TelemetryNames).</summary>
[Collection(TemplateCollection.Name)]
public sealed class TelemetryTests(CompiledTemplate template)
{
    private ArmResource GpuJob => template.Single("Microsoft.App/jobs");

    private IReadOnlyList<ArmResource> Assignments => template.OfType("Microsoft.Authorization/roleAssignments").ToList();

    [Fact]
    public void Gpu_job_gets_the_connection_string_of_the_deployments_application_insights()
    {
        var env = GpuJob.Properties["template"]!["containers"]![0]!["env"]!.AsArray()
            .ToDictionary(e => e!["name"]!.GetValue<string>(), e => e!["value"]?.GetValue<string>() ?? "");
        var value = env[RmtSettings.ApplicationInsightsConnectionString];
        Assert.Matches(@"^\[reference\(resourceId\('Microsoft\.Insights/components', parameters\('appInsightsName'\)\), '[0-9-]+'\)\.ConnectionString\]$", value);
        Assert.Equal("output:monitoring.appInsightsName", template.Trace(GpuJob, JsonValue.Create("[parameters('appInsightsName')]")));
        // Entra ID only: the component refuses the instrumentation key alone.
        Assert.True(template.Single("Microsoft.Insights/components").Properties["DisableLocalAuth"]?.GetValue<bool>());
    }

    [Fact]
    public void Gpu_job_identity_may_publish_telemetry_to_that_component_only()
    {
        var publisher = Assert.Single(Assignments, a => a.Text.Contains("parameters('jobPrincipalId')", StringComparison.Ordinal)
                                                        && a.Text.Contains("monitoringMetricsPublisher", StringComparison.Ordinal));
        Assert.Equal("[resourceId('Microsoft.Insights/components', parameters('appInsightsName'))]", publisher.Node["scope"]?.GetValue<string>());
        Assert.Equal("output:monitoring.appInsightsName", template.Trace(publisher, JsonValue.Create("[parameters('appInsightsName')]")));
    }

    private (ArmResource Resource, JsonObject Workbook) Workbook()
    {
        var resource = template.Single("Microsoft.Insights/workbooks");
        var serialized = resource.Properties["serializedData"]!.GetValue<string>();
        // loadTextContent('workbook.json') compiles to a variable of the module's template.
        var variable = System.Text.RegularExpressions.Regex.Match(serialized, @"^\[variables\('([^']+)'\)\]$");
        Assert.True(variable.Success, $"serializedData should be the loaded workbook.json, is {serialized[..Math.Min(80, serialized.Length)]}");
        serialized = resource.Deployment!["properties"]!["template"]!["variables"]![variable.Groups[1].Value]!.GetValue<string>();
        return (resource, JsonNode.Parse(serialized)!.AsObject());
    }

    [Fact]
    public void A_shared_workbook_belongs_to_the_application_insights_component()
    {
        var (resource, workbook) = Workbook();
        Assert.Equal("shared", resource.Node["kind"]?.GetValue<string>());
        Assert.Equal("workbook", resource.Properties["category"]?.GetValue<string>());
        Assert.Equal("[resourceId('Microsoft.Insights/components', parameters('appInsightsName'))]", resource.Properties["sourceId"]?.GetValue<string>());
        Assert.StartsWith("[guid(", resource.Node["name"]?.GetValue<string>(), StringComparison.Ordinal); // workbook names are GUIDs
        Assert.Equal("Notebook/1.0", workbook["version"]?.GetValue<string>());
    }

    [Fact]
    public void The_workbook_shows_a_runs_stages_and_training_curves_with_the_names_the_job_emits()
    {
        var (_, workbook) = Workbook();
        var items = workbook["items"]!.AsArray().Select(i => i!.AsObject()).ToList();
        var parameters = items.Single(i => i["type"]!.GetValue<int>() == 9)["content"]!["parameters"]!.AsArray()
            .Select(p => p!["name"]!.GetValue<string>());
        Assert.Equal(["TimeRange", "RunId"], parameters);
        var queries = items.Where(i => i["type"]!.GetValue<int>() == 3).Select(i => i["content"]!.AsObject()).ToList();
        Assert.All(queries, q =>
        {
            Assert.Contains("'{RunId}'", q["query"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.Equal("TimeRange", q["timeContextFromParameter"]?.GetValue<string>());
            Assert.Equal("microsoft.insights/components", q["resourceType"]?.GetValue<string>());
        });
        var text = string.Join("\n", queries.Select(q => q["query"]!.GetValue<string>()));

        // Stages: the trainer's attempt spans (Consumer spans land in requests).
        var stages = queries.Single(q => q["query"]!.GetValue<string>().Contains($"name == '{TelemetryNames.JobSpan}'", StringComparison.Ordinal)
                                         && q["visualization"]?.GetValue<string>() == "table");
        foreach (var tag in new[] { TelemetryNames.StageTag, TelemetryNames.AttemptTag, TelemetryNames.ExitCodeTag })
            Assert.Contains($"customDimensions['{tag}']", stages["query"]!.GetValue<string>(), StringComparison.Ordinal);
        // Curves by step: the step spans (Internal spans land in dependencies).
        foreach (var tag in new[] { TelemetryNames.RunIdTag, TelemetryNames.StepTag, TelemetryNames.LossTag, TelemetryNames.RewardTag, TelemetryNames.AccuracyTag })
            Assert.Contains($"customDimensions['{tag}']", text, StringComparison.Ordinal);
        Assert.Contains($"'{TelemetryNames.TrainStepSpan}'", text, StringComparison.Ordinal);
        Assert.Contains($"'{TelemetryNames.EvalStepSpan}'", text, StringComparison.Ordinal);
        Assert.Contains(queries, q => q["visualization"]?.GetValue<string>() == "linechart" && q["chartSettings"]?["xAxis"]?.GetValue<string>() == "step");
        // Curves over time: every histogram the job records (customMetrics).
        foreach (var metric in TelemetryNames.Metrics)
            Assert.Contains($"'{metric}'", text, StringComparison.Ordinal);
        Assert.Contains(queries, q => q["visualization"]?.GetValue<string>() == "timechart");
    }
}
