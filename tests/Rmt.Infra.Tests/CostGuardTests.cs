using System.Text.Json.Nodes;

namespace Rmt.Infra.Tests;

/// <summary>What keeps a failing GPU job from spending money unnoticed (issue 14 item 4): a bounded
/// platform retry, a dead-letter path after bounded deliveries, alerts on failed executions and
/// dead-lettered job messages, and a budget that notifies the alert email.</summary>
[Collection(TemplateCollection.Name)]
public sealed class CostGuardTests(CompiledTemplate template)
{
    private ArmResource Module(string name) =>
        template.Single("Microsoft.Resources/deployments", d => d.Node["name"]?.GetValue<string>() == name);

    private ArmResource Alert(string name) =>
        template.Single("Microsoft.Insights/metricAlerts", a => a.Node["name"]?.GetValue<string>() == name);

    private static JsonNode Criterion(ArmResource alert) =>
        Assert.Single(alert.Properties["criteria"]!["allOf"]!.AsArray())!;

    [Fact]
    public void A_failed_replica_is_retried_a_bounded_number_of_times()
    {
        var job = template.Single("Microsoft.App/jobs");
        Assert.Equal("[parameters('replicaRetryLimit')]", job.Properties["configuration"]!["replicaRetryLimit"]?.GetValue<string>());
        var parameter = Module("container-apps").Properties["template"]!["parameters"]!["replicaRetryLimit"]!;
        Assert.InRange(parameter["defaultValue"]!.GetValue<int>(), 1, 3);
        Assert.Equal(1, parameter["minValue"]!.GetValue<int>());
        Assert.Equal(3, parameter["maxValue"]!.GetValue<int>());
    }

    [Fact]
    public void A_job_message_whose_executions_keep_crashing_after_receive_is_dead_lettered()
    {
        var queue = template.Single("Microsoft.ServiceBus/namespaces/queues");
        var servicebus = Module("servicebus").Properties["template"]!["parameters"]!["jobMaxDeliveryCount"]!;
        Assert.Equal("[parameters('jobMaxDeliveryCount')]", queue.Properties["maxDeliveryCount"]?.GetValue<string>());
        Assert.InRange(servicebus["defaultValue"]!.GetValue<int>(), 2, 10);
    }

    [Fact]
    public void Failed_executions_of_the_gpu_job_raise_an_alert()
    {
        var alert = Alert("alert-gpu-job-failed-executions");
        Assert.Equal("output:container-apps.jobId", template.Trace(alert, alert.Properties["scopes"]![0]));
        var criterion = Criterion(alert);
        Assert.Equal("Microsoft.App/jobs", criterion["metricNamespace"]?.GetValue<string>());
        Assert.Equal("Executions", criterion["metricName"]?.GetValue<string>());
        var state = Assert.Single(criterion["dimensions"]!.AsArray())!;
        Assert.Equal("state", state["name"]?.GetValue<string>());
        Assert.Equal(["Failed"], state["values"]!.AsArray().Select(v => v!.GetValue<string>()));
        Assert.Equal(("GreaterThan", 0, "Total"), (criterion["operator"]!.GetValue<string>(), criterion["threshold"]!.GetValue<int>(), criterion["timeAggregation"]!.GetValue<string>()));
        Assert.True(alert.Properties["enabled"]!.GetValue<bool>());
    }

    [Fact]
    public void Dead_lettered_job_messages_raise_an_alert()
    {
        var alert = Alert("alert-job-queue-dead-lettered");
        Assert.Equal("output:servicebus.id", template.Trace(alert, alert.Properties["scopes"]![0]));
        var criterion = Criterion(alert);
        Assert.Equal("Microsoft.ServiceBus/namespaces", criterion["metricNamespace"]?.GetValue<string>());
        Assert.Equal("DeadletteredMessages", criterion["metricName"]?.GetValue<string>());
        var entity = Assert.Single(criterion["dimensions"]!.AsArray())!;
        Assert.Equal("EntityName", entity["name"]?.GetValue<string>());
        Assert.Equal("output:servicebus.jobQueueName", template.Trace(alert, entity["values"]![0]));
        Assert.Equal(0, criterion["threshold"]!.GetValue<int>());
    }

    [Fact]
    public void Alerts_notify_the_alert_email_through_an_action_group_when_one_is_given()
    {
        var group = template.Single("Microsoft.Insights/actionGroups");
        Assert.Equal("[variables('hasEmail')]", group.Node["condition"]?.GetValue<string>());
        Assert.Equal("parameter:alertEmail", template.Trace(group, group.Properties["emailReceivers"]![0]!["emailAddress"]));
        var actions = Module("alerts").Properties["template"]!["variables"]!["actions"]!.GetValue<string>();
        Assert.Equal("[if(variables('hasEmail'), createArray(createObject('actionGroupId', resourceId('Microsoft.Insights/actionGroups', parameters('actionGroupName')))), createArray())]", actions);
        foreach (var alert in template.OfType("Microsoft.Insights/metricAlerts"))
            Assert.Equal("[variables('actions')]", alert.Properties["actions"]?.GetValue<string>());
        var file = JsonNode.Parse(File.ReadAllText(Path.Combine(template.RepoRoot, "infra", "bicep", "main.parameters.json")))!["parameters"]!;
        Assert.Equal("${RMT_ALERT_EMAIL}", file["alertEmail"]!["value"]!.GetValue<string>());
    }

    [Fact]
    public void A_monthly_budget_notifies_the_alert_email_and_the_owners()
    {
        var budget = template.Single("Microsoft.Consumption/budgets");
        Assert.Equal("Cost", budget.Properties["category"]?.GetValue<string>());
        Assert.Equal("Monthly", budget.Properties["timeGrain"]?.GetValue<string>());
        Assert.Equal("parameter:monthlyBudget", template.Trace(budget, budget.Properties["amount"]));
        Assert.True(template.MainParameter("monthlyBudget")["defaultValue"]!.GetValue<int>() > 0);
        var notifications = budget.Properties["notifications"]!.AsObject();
        Assert.Contains(notifications, n => n.Value!["thresholdType"]!.GetValue<string>() == "Forecasted");
        foreach (var (_, notification) in notifications)
        {
            Assert.True(notification!["enabled"]!.GetValue<bool>());
            Assert.Equal("[if(variables('hasEmail'), createArray(parameters('alertEmail')), createArray())]", notification["contactEmails"]?.GetValue<string>());
            Assert.Equal(["Owner"], notification["contactRoles"]!.AsArray().Select(r => r!.GetValue<string>()));
        }
        // The pinned start date (RMT_BUDGET_START_DATE), else the deployment's month.
        var start = Module("alerts").Properties["parameters"]!["budgetStartDate"]!.GetValue<string>();
        Assert.Equal("[if(empty(parameters('budgetStartDate')), createObject('value', parameters('deploymentMonth')), createObject('value', parameters('budgetStartDate')))]", start);
        Assert.Equal("[utcNow('yyyy-MM-01')]", template.MainParameter("deploymentMonth")["defaultValue"]?.GetValue<string>());
    }
}
