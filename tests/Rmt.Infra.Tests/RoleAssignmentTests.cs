using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Rmt.Contracts;

namespace Rmt.Infra.Tests;

/// <summary>Every identity gets exactly the roles the code needs, built-in data-plane roles only.</summary>
[Collection(TemplateCollection.Name)]
public sealed partial class RoleAssignmentTests(CompiledTemplate template)
{
    /// <summary>Built-in role definition ids (the same in every Azure tenant) and their names.</summary>
    private static readonly Dictionary<string, (string Id, string Name)> Roles = new()
    {
        ["storageBlobDataOwner"] = ("b7e6dc6d-f1e8-4753-8033-0f276bb0955b", "Storage Blob Data Owner"),
        ["storageBlobDataContributor"] = ("ba92f5b4-2d11-453d-a403-e96b0029c9fe", "Storage Blob Data Contributor"),
        ["storageBlobDataReader"] = ("2a2b9908-6ea1-4ae2-8e65-a410df84e7d1", "Storage Blob Data Reader"),
        ["storageQueueDataContributor"] = ("974c5e8b-45b9-4653-ba55-5f855dd0fb88", "Storage Queue Data Contributor"),
        ["storageTableDataContributor"] = ("0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3", "Storage Table Data Contributor"),
        ["serviceBusDataSender"] = ("69a216fc-b8fb-44d8-bc22-1f3c2cd27a39", "Azure Service Bus Data Sender"),
        ["serviceBusDataReceiver"] = ("4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0", "Azure Service Bus Data Receiver"),
        ["serviceBusDataOwner"] = ("090c5cfd-751d-490a-894a-3ce6f1109419", "Azure Service Bus Data Owner"),
        ["acrPull"] = ("7f951dda-4ed3-4680-a7ca-43fe172d538d", "AcrPull"),
        ["monitoringMetricsPublisher"] = ("3913510d-42f4-4e42-8a64-420c390055eb", "Monitoring Metrics Publisher"),
    };

    /// <summary>Which identity holds which role; anything else is more privilege than the code needs.</summary>
    private static readonly string[] Expected =
    [
        "functionsPrincipalId storageBlobDataOwner",
        "functionsPrincipalId storageQueueDataContributor",
        "functionsPrincipalId storageTableDataContributor",
        "functionsPrincipalId serviceBusDataSender",
        "functionsPrincipalId serviceBusDataReceiver",
        "functionsPrincipalId monitoringMetricsPublisher",
        "jobPrincipalId storageBlobDataContributor",
        "jobPrincipalId storageBlobDataReader",
        "jobPrincipalId serviceBusDataReceiver",
        "jobPrincipalId serviceBusDataSender",
        "jobPrincipalId acrPull",
        "jobPrincipalId monitoringMetricsPublisher",
        "scalerPrincipalId serviceBusDataOwner",
        "userPrincipalId storageBlobDataContributor",
    ];

    [GeneratedRegex(@"variables\('roles'\)\.(\w+)")]
    private static partial Regex RoleRef();

    [GeneratedRegex(@"parameters\('(\w+PrincipalId)'\)")]
    private static partial Regex PrincipalRef();

    private IReadOnlyList<ArmResource> Assignments => template.OfType("Microsoft.Authorization/roleAssignments").ToList();

    private ArmResource RolesModule => template.Single("Microsoft.Resources/deployments", d => d.Node["name"]?.GetValue<string>() == "roles");

    [Fact]
    public void Role_ids_are_the_built_in_roles_they_are_named_after()
    {
        var declared = RolesModule.Properties["template"]!["variables"]!["roles"]!.AsObject()
            .ToDictionary(p => p.Key, p => p.Value!.GetValue<string>());
        Assert.Equal(Roles.Keys.Order(StringComparer.Ordinal), declared.Keys.Order(StringComparer.Ordinal));
        foreach (var (key, (id, name)) in Roles)
            Assert.True(declared[key] == id, $"role {key} should be {name} ({id}), is {declared[key]}");
    }

    [Fact]
    public void Each_identity_holds_exactly_the_roles_it_needs()
    {
        var pairs = Assignments
            .Select(a => (Principal: PrincipalRef().Matches(a.Text).Select(m => m.Groups[1].Value).Distinct().Single(),
                          Roles: RoleRef().Matches(a.Text).Select(m => m.Groups[1].Value).Distinct()))
            .SelectMany(a => a.Roles.Select(r => $"{a.Principal} {r}"))
            .Distinct()
            .Order(StringComparer.Ordinal);
        Assert.Equal(Expected.Order(StringComparer.Ordinal), pairs);
    }

    [Fact]
    public void Every_assignment_uses_a_role_of_the_allow_list_and_none_is_an_owner_of_the_subscription()
    {
        Assert.NotEmpty(Assignments);
        foreach (var assignment in Assignments)
        {
            Assert.Matches(RoleRef(), assignment.Text);
            Assert.Equal("roles", assignment.Module);
        }
        foreach (var broad in new[] { "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "b24988ac-6180-42a0-ab88-20f7382dd24c", "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9" })
            Assert.DoesNotContain(broad, template.Text, StringComparison.OrdinalIgnoreCase); // Owner, Contributor, User Access Administrator
    }

    [Fact]
    public void Gpu_job_blob_access_is_limited_to_the_artifact_containers_and_read_only_on_datasets()
    {
        var jobBlobs = Assignments.Where(a => a.Text.Contains("parameters('jobPrincipalId')", StringComparison.Ordinal)
                                             && a.Text.Contains("storageBlobData", StringComparison.Ordinal)).ToList();
        var assignment = Assert.Single(jobBlobs);
        Assert.Contains("Microsoft.Storage/storageAccounts/blobServices/containers", assignment.Node["scope"]?.GetValue<string>() ?? "", StringComparison.Ordinal);
        Assert.NotNull(assignment.Node["copy"]); // one per container
        // Reader on the datasets container, Contributor on the others; the role is part of the name, so
        // changing it creates a new assignment instead of failing on an immutable one.
        const string role = "if(equals(parameters('artifactContainers')[copyIndex()], parameters('datasetsContainer')), variables('roles').storageBlobDataReader, variables('roles').storageBlobDataContributor)";
        Assert.Equal($"[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', {role})]", assignment.Properties["roleDefinitionId"]?.GetValue<string>());
        Assert.EndsWith($", {role})]", assignment.Node["name"]?.GetValue<string>(), StringComparison.Ordinal);
        var rolesTemplate = RolesModule.Properties["template"]!;
        Assert.Equal(BlobLayout.DatasetsContainer, rolesTemplate["parameters"]!["datasetsContainer"]!["defaultValue"]?.GetValue<string>());
        Assert.Null(RolesModule.Properties["parameters"]?["datasetsContainer"]); // main.bicep keeps the default
        Assert.Equal("output:storage.artifactContainers", template.Trace(assignment, JsonValue.Create("[parameters('artifactContainers')]")));
    }

    [Fact]
    public void Functions_host_storage_identity_is_blob_data_owner_as_the_functions_docs_require()
    {
        var host = Assert.Single(Assignments, a => a.Text.Contains("parameters('functionsPrincipalId')", StringComparison.Ordinal)
                                                   && a.Text.Contains("storageBlobData", StringComparison.Ordinal));
        Assert.Contains("variables('roles').storageBlobDataOwner", host.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("storageBlobDataContributor", host.Text, StringComparison.Ordinal);
        Assert.Equal("[resourceId('Microsoft.Storage/storageAccounts', parameters('storageAccountName'))]", host.Node["scope"]?.GetValue<string>());
    }

    [Fact]
    public void Deploying_principal_type_comes_from_the_azd_environment_and_is_detected_when_unset()
    {
        var parameter = template.MainParameter("principalType");
        Assert.Equal("", parameter["defaultValue"]?.GetValue<string>()); // not 'User': a CI login is a service principal
        Assert.Contains("ServicePrincipal", parameter["allowedValues"]!.AsArray().Select(v => v!.GetValue<string>()));
        var file = JsonNode.Parse(File.ReadAllText(Path.Combine(template.RepoRoot, "infra", "bicep", "main.parameters.json")))!;
        Assert.Equal("${AZURE_PRINCIPAL_TYPE}", file["parameters"]!["principalType"]!["value"]!.GetValue<string>());

        var user = Assert.Single(Assignments, a => a.Text.Contains("parameters('userPrincipalId')", StringComparison.Ordinal));
        // Empty leaves principalType out of the request (null), and Azure looks the principal up.
        Assert.Equal("[if(empty(parameters('userPrincipalType')), null(), parameters('userPrincipalType'))]",
            user.Properties["principalType"]?.GetValue<string>());
        Assert.Equal("parameter:principalType", template.Trace(user, JsonValue.Create("[parameters('userPrincipalType')]")));
    }

    [Fact]
    public void The_scalers_identity_is_not_available_to_the_trainer_container()
    {
        var job = template.Single("Microsoft.App/jobs");
        var settings = job.Properties["configuration"]!["identitySettings"]!.AsArray()
            .ToDictionary(s => template.Trace(job, s!["identity"]), s => s!["lifecycle"]!.GetValue<string>());
        Assert.Equal("None", settings["output:scaler-identity.id"]);
        Assert.Equal("All", settings["output:job-identity.id"]);
        Assert.Equal(2, job.Node["identity"]!["userAssignedIdentities"]!.AsObject().Count); // both attached, only one usable inside
        var rule = job.Properties["configuration"]!["eventTriggerConfig"]!["scale"]!["rules"]![0]!;
        Assert.Equal("output:scaler-identity.id", template.Trace(job, rule["identity"]));
    }

    [Fact]
    public void The_scaler_owns_only_the_job_queue()
    {
        var owner = Assert.Single(Assignments, a => a.Text.Contains("serviceBusDataOwner", StringComparison.Ordinal));
        Assert.Contains("Microsoft.ServiceBus/namespaces/queues", owner.Node["scope"]?.GetValue<string>() ?? "", StringComparison.Ordinal);
    }
}
