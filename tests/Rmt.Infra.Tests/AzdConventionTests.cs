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

    [GeneratedRegex(@"\$\{(?<var>[A-Z][A-Z0-9_]*):\?")]
    private static partial Regex RequiredShellVariable();

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
            "AZURE_CONTAINER_REGISTRY_NAME", "RMT_FUNCTION_APP_NAME", "RMT_API_URL", "RMT_GPU_JOB_NAME",
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
    public void Azure_yaml_points_at_the_bicep_and_an_executable_hook_fed_by_template_outputs()
    {
        var yaml = File.ReadAllLines(Path("azure.yaml")).Select(l => l.Trim()).ToList();
        Assert.Contains("path: infra/bicep", yaml);
        Assert.Contains("module: main", yaml);
        Assert.Contains("host: function", yaml);
        var hooks = yaml.Where(l => l.StartsWith("run: ", StringComparison.Ordinal)).Select(l => l["run: ".Length..]).ToList();
        Assert.NotEmpty(hooks);
        foreach (var hook in hooks)
        {
            var file = Path(hook.Split('/'));
            Assert.True(File.Exists(file), $"azure.yaml hook {hook} does not exist");
            if (!OperatingSystem.IsWindows())
                Assert.True((File.GetUnixFileMode(file) & UnixFileMode.UserExecute) != 0, $"{hook} is not executable");
            var script = File.ReadAllText(file);
            var needs = RequiredShellVariable().Matches(script).Select(m => m.Groups["var"].Value).ToList();
            Assert.NotEmpty(needs);
            Assert.Empty(needs.Except(Outputs));
        }
    }

    [Fact]
    public void The_image_the_hook_records_is_the_one_the_next_provision_uses()
    {
        var file = JsonNode.Parse(File.ReadAllText(Path("infra", "bicep", "main.parameters.json")))!["parameters"]!;
        var imageVariable = AzdVariable().Match(file["gpuJobImage"]!["value"]!.GetValue<string>()).Groups["var"].Value;
        Assert.Equal("RMT_GPU_JOB_IMAGE", imageVariable);
        Assert.Contains($"azd env set {imageVariable} ", File.ReadAllText(Path("infra", "hooks", "postdeploy.sh")), StringComparison.Ordinal);
    }
}
