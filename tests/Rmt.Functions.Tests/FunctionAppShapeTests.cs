using System.Reflection;
using System.Text.Json;
using Microsoft.Azure.Functions.Worker;
using Rmt.Pipeline;

namespace Rmt.Functions.Tests;

/// <summary>What the Functions host will find: a wrapper for every durable task the pipeline
/// registers, host.json for the Azure Storage backend by identity, no TorchSharp, and no local
/// hosting package.</summary>
public sealed class FunctionAppShapeTests
{
    private static readonly string[] DurableNames =
    [
        PipelineNames.PipelineOrchestrator, PipelineNames.StageOrchestrator, PipelineNames.ValidateRequestActivity,
        PipelineNames.DispatchJobActivity, PipelineNames.DrainEventsActivity, PipelineNames.WriteCancelMarkerActivity,
        PipelineNames.StopAttemptActivity, PipelineNames.WriteReportActivity,
    ];

    private static IEnumerable<(string Name, MethodInfo Method)> Functions() =>
        typeof(DurableFunctions).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods())
            .Select(m => (m.GetCustomAttribute<FunctionAttribute>()?.Name, m))
            .Where(f => f.Name is not null)
            .Select(f => (f.Name!, f.m));

    [Fact]
    public void Every_durable_task_of_the_pipeline_has_a_function_of_the_same_name()
    {
        var names = Functions().Select(f => f.Name).ToList();
        Assert.All(DurableNames, name => Assert.Contains(name, names));
        Assert.Equal(names.Count, names.Distinct().Count());
        Assert.Contains("ScheduledRetraining", names);
    }

    [Fact]
    public void Every_HTTP_trigger_requires_a_key()
    {
        var triggers = Functions()
            .SelectMany(f => f.Method.GetParameters().Select(p => (f.Name, Trigger: p.GetCustomAttribute<HttpTriggerAttribute>())))
            .Where(t => t.Trigger is not null)
            .ToList();

        Assert.NotEmpty(triggers);
        Assert.All(triggers, t => Assert.True(t.Trigger!.AuthLevel != AuthorizationLevel.Anonymous, $"HTTP function {t.Name} is anonymous"));
    }

    [Fact]
    public void The_timer_reads_its_cron_from_the_schedule_setting()
    {
        var timer = Functions().Single(f => f.Name == "ScheduledRetraining").Method;
        var trigger = timer.GetParameters().Select(p => p.GetCustomAttribute<TimerTriggerAttribute>()).Single(a => a is not null)!;
        Assert.Equal("%RMT_SCHEDULE_CRON%", trigger.Schedule);
    }

    [Fact]
    public void Host_json_uses_the_azure_storage_backend_through_the_identity_based_host_storage()
    {
        using var host = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "host.json")));
        var durable = host.RootElement.GetProperty("extensions").GetProperty("durableTask");
        var provider = durable.GetProperty("storageProvider");
        Assert.Equal("AzureStorage", provider.GetProperty("type").GetString());
        Assert.Equal("AzureWebJobsStorage", provider.GetProperty("connectionName").GetString());
        Assert.DoesNotContain("AccountKey", host.RootElement.GetRawText(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void The_app_does_not_load_torchsharp()
    {
        var references = typeof(DurableFunctions).Assembly.GetReferencedAssemblies().Select(a => a.Name).ToList();
        Assert.DoesNotContain(references, n => n!.StartsWith("TorchSharp", StringComparison.Ordinal) || n == "Rmt.Training");
        Assert.False(File.Exists(Path.Combine(AppContext.BaseDirectory, "TorchSharp.dll")));
    }

    /// <summary>Packages only the local host may use: the in-process test host (its gRPC sidecar) and the
    /// Azure Storage durable backend it runs on Azurite (Rmt.Local/Hosting), and the trainer's TorchSharp.</summary>
    private static readonly string[] LocalOnlyPackages =
    [
        "Microsoft.DurableTask.InProcessTestHost", "Microsoft.Azure.DurableTask.AzureStorage", "TorchSharp", "TorchSharp-cpu",
    ];

    [Fact]
    public void The_deployed_app_carries_no_test_host_no_local_durable_backend_and_no_torchsharp()
    {
        // The app's whole restore closure (direct and transitive, projects and packages), as NuGet
        // resolved it for this build: the test's own output cannot tell, since it also references Rmt.Local.
        var assets = Path.Combine(RepoRoot(), "src", "Rmt.Functions", "obj", "project.assets.json");
        using var json = JsonDocument.Parse(File.ReadAllText(assets));
        var closure = json.RootElement.GetProperty("targets").EnumerateObject().Single().Value
            .EnumerateObject().Select(library => library.Name.Split('/')[0]).ToList();
        Assert.Contains("Microsoft.Azure.Functions.Worker", closure);
        Assert.Contains("Rmt.Pipeline", closure);
        Assert.All(LocalOnlyPackages, package => Assert.DoesNotContain(package, closure, StringComparer.OrdinalIgnoreCase));
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Rmt.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("repository root (Rmt.sln) not found above " + AppContext.BaseDirectory);
    }
}
