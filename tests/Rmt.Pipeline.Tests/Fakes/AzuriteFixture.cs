using Rmt.Cloud.Local;

namespace Rmt.Pipeline.Tests.Fakes;

/// <summary>One real Azurite for the pipeline tests, started on free ports and stopped afterwards.
/// Tests share it and keep apart by run id and job queue name.</summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    private AzuriteServer? _server;

    public string ConnectionString => (_server ?? throw new InvalidOperationException("Azurite has not started")).ConnectionString;

    public async Task InitializeAsync() => _server = await AzuriteServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class AzuriteCollection : ICollectionFixture<AzuriteFixture>
{
    public const string Name = "pipeline-azurite";
}
