using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Rmt.Contracts;

namespace Rmt.Infra.Tests;

/// <summary>The Azure Developer CLI files agree with the template: parameters azd fills, outputs it
/// stores (UPPER_SNAKE), and the hook that builds the GPU image.</summary>
[Collection(TemplateCollection.Name)]
public sealed partial class AzdConventionTests(CompiledTemplate template)
{
    [GeneratedRegex(@"^\$\{(?<var>[A-Z][A-Z0-9_]*)(=(?<default>[^}]*))?\}$")]
    private static partial Regex AzdVariable();

    [GeneratedRegex(@"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$")]
    private static partial Regex UpperSnake();

    private string Path(params string[] parts) => System.IO.Path.Combine([template.RepoRoot, .. parts]);

    private IEnumerable<string> Outputs => template.Root["outputs"]!.AsObject().Select(o => o.Key);

    [Fact]
    public void Parameters_file_fills_only_template_parameters_with_valid_defaults()
    {
        var file = JsonNode.Parse(File.ReadAllText(Path("infra", "bicep", "main.parameters.json")))!["parameters"]!.AsObject();
        Assert.Contains("environmentName", file.Select(p => p.Key));
        Assert.Contains("location", file.Select(p => p.Key));
        foreach (var (name, entry) in file)
        {
            var definition = template.MainParameter(name);
            var match = AzdVariable().Match(entry!["value"]!.GetValue<string>());
            Assert.True(match.Success, $"main.parameters.json {name} should be an azd variable like ${{NAME}} or ${{NAME=default}}");
            if (!match.Groups["default"].Success) continue;
            var fallback = match.Groups["default"].Value;
            if (definition["allowedValues"] is JsonArray allowed)
                Assert.Contains(fallback, allowed.Select(v => v!.GetValue<string>()));
            if (definition["defaultValue"] is JsonValue templateDefault)
                Assert.Equal(templateDefault.GetValue<string>(), fallback);
        }
    }

    [Fact]
    public void Outputs_are_upper_snake_and_give_scripts_what_they_need()
    {
        Assert.All(Outputs, o => Assert.Matches(UpperSnake(), o));
        string[] needed =
        [
            "AZURE_LOCATION", "AZURE_TENANT_ID", "AZURE_RESOURCE_GROUP", "AZURE_CONTAINER_REGISTRY_ENDPOINT",
            "AZURE_CONTAINER_REGISTRY_NAME", "AZURE_CONTAINER_APPS_ENVIRONMENT_NAME", "RMT_GPU_MAX_EXECUTIONS", "RMT_FUNCTION_APP_NAME", "RMT_API_URL", "RMT_GPU_JOB_NAME",
            RmtSettings.BlobServiceUri, RmtSettings.QueueServiceUri, RmtSettings.ServiceBusNamespace,
            RmtSettings.JobQueue, RmtSettings.EventTopic, RmtSettings.EventSubscription,
        ];
        Assert.Empty(needed.Except(Outputs));
    }

    [Fact]
    public void Resource_names_come_from_the_abbreviations_and_the_resource_token()
    {
        var abbreviations = JsonNode.Parse(File.ReadAllText(Path("infra", "bicep", "abbreviations.json")))!.AsObject();
        var mainBicep = File.ReadAllText(template.MainBicep);
        Assert.Contains("uniqueString(subscription().id, environmentName, location)", mainBicep, StringComparison.Ordinal);
        foreach (var (key, _) in abbreviations)
            Assert.True(mainBicep.Contains($"abbrs.{key}", StringComparison.Ordinal), $"abbreviation {key} is unused; remove it or use it");
    }

    [Fact]
    public void Azure_yaml_points_at_the_bicep_and_runs_the_cross_platform_hooks()
    {
        var yaml = File.ReadAllLines(Path("azure.yaml")).Select(l => l.Trim()).ToList();
        Assert.Contains("path: infra/bicep", yaml);
        Assert.Contains("module: main", yaml);
        Assert.Contains("host: function", yaml);
        var runs = yaml.Where(l => l.StartsWith("run: ", StringComparison.Ordinal)).Select(l => l["run: ".Length..]).ToList();
        // Each hook once for posix (sh) and once for Windows (pwsh), the same dotnet command.
        Assert.Equal(
            ["dotnet run --project infra/hooks/Rmt.AzdHooks -- postprovision", "dotnet run --project infra/hooks/Rmt.AzdHooks -- postprovision",
             "dotnet run --project infra/hooks/Rmt.AzdHooks -- preprovision", "dotnet run --project infra/hooks/Rmt.AzdHooks -- preprovision"],
            runs.Order(StringComparer.Ordinal));
        Assert.Equal(2, yaml.Count(l => l == "shell: pwsh"));
        Assert.Equal(2, yaml.Count(l => l == "shell: sh"));
        Assert.True(File.Exists(Path("infra", "hooks", "Rmt.AzdHooks", "Rmt.AzdHooks.csproj")));
        Assert.False(File.Exists(Path("infra", "hooks", "postdeploy.sh")), "the image is deployed by azd (service gpujob), not a posix-only hook");
    }

    [Fact]
    public void The_hooks_read_only_values_azd_has()
    {
        var program = File.ReadAllText(Path("infra", "hooks", "Rmt.AzdHooks", "Program.cs"));
        var file = JsonNode.Parse(File.ReadAllText(Path("infra", "bicep", "main.parameters.json")))!["parameters"]!.AsObject();
        var inputs = file.Select(p => AzdVariable().Match(p.Value!["value"]!.GetValue<string>()).Groups["var"].Value).ToHashSet();
        foreach (var name in RequiredOrOptional().Matches(program).Select(m => m.Groups["var"].Value).Distinct())
            Assert.True(Outputs.Contains(name) || inputs.Contains(name) || name is "RMT_SKIP_GPU_CHECKS",
                $"the hooks read {name}, which is neither a template output nor an azd input of main.parameters.json");
    }

    [GeneratedRegex(@"(?:Required|Optional)\(""(?<var>[A-Z_]+)""")]
    private static partial Regex RequiredOrOptional();

    [Fact]
    public void The_gpu_job_is_an_azd_container_app_service_and_keeps_its_image_across_provisions()
    {
        var yaml = File.ReadAllText(Path("azure.yaml"));
        Assert.Contains("requiredVersions:\n  azd: \">= 1.23.8\"", yaml.ReplaceLineEndings("\n"), StringComparison.Ordinal); // jobs as host: containerapp
        var service = yaml.ReplaceLineEndings("\n")[yaml.ReplaceLineEndings("\n").IndexOf("  gpujob:\n", StringComparison.Ordinal)..];
        Assert.Contains("project: ./src/Rmt.GpuJob\n", service, StringComparison.Ordinal);
        Assert.Contains("host: containerapp\n", service, StringComparison.Ordinal);
        Assert.Contains("path: ./Dockerfile.cuda\n", service, StringComparison.Ordinal);
        Assert.Contains("context: ../..\n", service, StringComparison.Ordinal);
        Assert.True(File.Exists(Path("src", "Rmt.GpuJob", "Dockerfile.cuda")));

        var job = template.Single("Microsoft.App/jobs");
        Assert.Contains("'azd-service-name', 'gpujob'", job.Node["tags"]?.GetValue<string>() ?? "", StringComparison.Ordinal);
        var file = JsonNode.Parse(File.ReadAllText(Path("infra", "bicep", "main.parameters.json")))!["parameters"]!;
        Assert.Equal("SERVICE_GPUJOB_IMAGE_NAME", AzdVariable().Match(file["gpuJobImage"]!["value"]!.GetValue<string>()).Groups["var"].Value);
        Assert.Equal("parameter:gpuJobImage", template.Trace(job, job.Properties["template"]!["containers"]![0]!["image"]));
    }
}
