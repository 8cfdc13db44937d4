using Rmt.Cloud.Azurite;
using Rmt.Local;
using Rmt.Local.Jobs;

namespace Rmt.Functions.Tests;

/// <summary>A local host without a job runner: Azurite, the durable backend and the pipeline worker.
/// The functions get its DurableTaskClient, the same kind of client the Functions host hands them.</summary>
public sealed class DurableHostFixture : IAsyncLifetime
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "rmt-functions-tests", Guid.NewGuid().ToString("N")[..12]);
    private LocalHost? _host;

    public LocalHost Host => _host ?? throw new InvalidOperationException("the host has not started");

    public async Task InitializeAsync() => _host = await LocalHost.StartAsync(new LocalHostOptions
    {
        RepoRoot = AzuriteServer.FindRepoRoot(),
        DataDir = _folder,
        RunJobs = false,
        JobRunner = new LocalJobRunnerOptions { Command = ["/bin/true"], WorkRoot = Path.Combine(_folder, "jobs") },
        LogLevel = Microsoft.Extensions.Logging.LogLevel.Warning,
    });

    public async Task DisposeAsync()
    {
        if (_host is not null) await _host.DisposeAsync();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // the OS cleans temp later
        }
    }
}

[CollectionDefinition(Name)]
public sealed class DurableHostCollection : ICollectionFixture<DurableHostFixture>
{
    public const string Name = "functions-durable-host";
}
