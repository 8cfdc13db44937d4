using Rmt.Cloud.Azurite;

namespace Rmt.Testing;

/// <summary>One real Azurite per test assembly, started on free ports and stopped afterwards; tests keep
/// apart by unique container, queue and run names. Compiled into every test project that needs storage
/// (linked from tests/Shared), so there is one copy.</summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    private AzuriteServer? _server;

    public AzuriteServer Server => _server ?? throw new InvalidOperationException("Azurite has not started");

    public string ConnectionString => Server.ConnectionString;

    public async Task InitializeAsync() => _server = await AzuriteServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class AzuriteCollection : ICollectionFixture<AzuriteFixture>
{
    public const string Name = "azurite";
}
