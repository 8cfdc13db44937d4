using System.Diagnostics;
using System.Reflection;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Rmt.Infra.Tests;

/// <summary>A resource of the compiled template, with the module (nested deployment) that holds it.</summary>
public sealed record ArmResource(string Type, JsonObject Node, string? Module, JsonObject? Deployment)
{
    public JsonObject Properties => Node["properties"]?.AsObject() ?? throw new InvalidOperationException($"{Type} has no properties");
    /// <summary>The resource as JSON, with ARM expressions unescaped (quotes stay ' not \u0027).</summary>
    public string Text => Node.ToJsonString(Readable);

    private static readonly JsonSerializerOptions Readable = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}

/// <summary>
/// infra/bicep/main.bicep compiled to ARM JSON by the pinned Bicep CLI (path baked in at build time by
/// infra/bicep-cli.props), once per test run. Bicep modules become nested deployments
/// (Microsoft.Resources/deployments with an inline template); <see cref="Resources"/> flattens them.
/// </summary>
public sealed partial class CompiledTemplate
{
    public string RepoRoot { get; }
    public string MainBicep { get; }
    public string Text { get; }
    public string Diagnostics { get; }
    public JsonObject Root { get; }
    public IReadOnlyList<ArmResource> Resources { get; }

    public CompiledTemplate()
    {
        RepoRoot = FindRepoRoot();
        MainBicep = Path.Combine(RepoRoot, "infra", "bicep", "main.bicep");
        var bicep = BicepPath();
        (Text, Diagnostics) = Compile(bicep, MainBicep);
        Root = JsonNode.Parse(Text)?.AsObject() ?? throw new InvalidOperationException("bicep build printed no template");
        var resources = new List<ArmResource>();
        Collect(Root, null, null, resources);
        Resources = resources;
    }

    public IEnumerable<ArmResource> OfType(string type) =>
        Resources.Where(r => string.Equals(r.Type, type, StringComparison.OrdinalIgnoreCase));

    public ArmResource Single(string type, Func<ArmResource, bool>? where = null)
    {
        var matches = OfType(type).Where(where ?? (_ => true)).ToList();
        Assert.True(matches.Count == 1, $"expected exactly one {type} in the template, found {matches.Count}");
        return matches[0];
    }

    /// <summary>The main template's parameter (its definition: type, defaultValue, allowedValues).</summary>
    public JsonObject MainParameter(string name) =>
        Root["parameters"]?[name]?.AsObject() ?? throw new InvalidOperationException($"main.bicep has no parameter '{name}'");

    /// <summary>
    /// Where a value inside a module comes from, followed one level up into main.bicep:
    /// "literal:{text}", "output:{module}.{output}" (another module's output), "parameter:{name}"
    /// (a parameter of main.bicep) or "expression:{text}" for anything else.
    /// </summary>
    public string Trace(ArmResource resource, JsonNode? value)
    {
        var text = value?.GetValue<string>() ?? "";
        if (!text.StartsWith('[')) return $"literal:{text}";
        var parameter = ParameterRef().Match(text);
        if (!parameter.Success || resource.Deployment is null) return $"expression:{text}";
        var passed = resource.Deployment["properties"]?["parameters"]?[parameter.Groups[1].Value]?["value"];
        var passedText = passed?.GetValue<string>() ?? "";
        if (!passedText.StartsWith('[')) return $"literal:{passedText}";
        var output = ModuleOutputRef().Match(passedText);
        if (output.Success) return $"output:{output.Groups[1].Value}.{output.Groups[2].Value}";
        var mainParameter = ParameterRef().Match(passedText);
        if (mainParameter.Success) return $"parameter:{mainParameter.Groups[1].Value}";
        var mainVariable = VariableRef().Match(passedText);
        if (mainVariable.Success && Root["variables"]?[mainVariable.Groups[1].Value] is JsonValue v && v.GetValue<string>() is var s && !s.StartsWith('['))
            return $"literal:{s}";
        return $"expression:{passedText}";
    }

    [GeneratedRegex(@"^\[parameters\('([^']+)'\)\]$")]
    private static partial Regex ParameterRef();

    [GeneratedRegex(@"^\[variables\('([^']+)'\)\]$")]
    private static partial Regex VariableRef();

    [GeneratedRegex(@"'Microsoft\.Resources/deployments', '([^']+)'\), '[^']+'\)\.outputs\.(\w+)\.value\]$")]
    private static partial Regex ModuleOutputRef();

    private static void Collect(JsonObject template, string? module, JsonObject? deployment, List<ArmResource> into)
    {
        // Bicep emits a resource array, or (language version 2.0) an object keyed by symbolic name.
        IEnumerable<JsonNode?> nodes = template["resources"] switch
        {
            JsonArray array => array,
            JsonObject byName => byName.Select(p => p.Value),
            _ => [],
        };
        foreach (var node in nodes.OfType<JsonObject>())
        {
            var type = node["type"]?.GetValue<string>() ?? throw new InvalidOperationException("a resource without a type");
            into.Add(new ArmResource(type, node, module, deployment));
            if (type == "Microsoft.Resources/deployments" && node["properties"]?["template"] is JsonObject inner)
                Collect(inner, node["name"]?.GetValue<string>(), node, into);
        }
    }

    private static (string Json, string Diagnostics) Compile(string bicep, string file)
    {
        var (exitCode, json, diagnostics) = Run(bicep, ["build", file, "--stdout"], stdin: null);
        if (exitCode != 0)
            throw new InvalidOperationException($"bicep build {file} failed (exit {exitCode}):\n{diagnostics}");
        return (json, diagnostics);
    }

    private static (int ExitCode, string Stdout, string Stderr) Run(string bicep, IEnumerable<string> arguments, string? stdin)
    {
        var start = new ProcessStartInfo(bicep)
        {
            RedirectStandardInput = stdin is not null,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {bicep}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            process.StandardInput.Write(stdin);
            process.StandardInput.Close();
        }
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"bicep {string.Join(' ', arguments)} took more than 2 minutes");
        }
        return (process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }

    private static string BicepPath()
    {
        var path = typeof(CompiledTemplate).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .SingleOrDefault(a => a.Key == "RmtBicepPath")?.Value;
        if (string.IsNullOrEmpty(path) || !File.Exists(path))
            throw new InvalidOperationException(
                $"the Bicep CLI is not at '{path}'; restore this test project (scripts/setup.sh or " +
                "`dotnet restore tests/Rmt.Infra.Tests`) so NuGet downloads Azure.Bicep.CommandLine.linux-x64");
        if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & UnixFileMode.UserExecute) == 0)
            File.SetUnixFileMode(path, File.GetUnixFileMode(path) | UnixFileMode.UserExecute);
        return path;
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Rmt.sln")) && Directory.Exists(Path.Combine(dir.FullName, "infra", "bicep")))
                return dir.FullName;
        throw new InvalidOperationException($"no repository root (Rmt.sln with infra/bicep) above {AppContext.BaseDirectory}");
    }
}

[CollectionDefinition(Name)]
public sealed class TemplateCollection : ICollectionFixture<CompiledTemplate>
{
    public const string Name = "compiled main.bicep";
}
