using System.Net.Sockets;
using Azure.Storage.Blobs;

namespace Rmt.Cloud.Tests;

[Collection(AzuriteCollection.Name)]
public sealed class AzuriteServerTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task Started_azurite_serves_blobs_on_its_own_ports()
    {
        var container = new BlobServiceClient(azurite.ConnectionString).GetBlobContainerClient("smoke");
        await container.CreateIfNotExistsAsync();
        await container.UploadBlobAsync("hello.txt", BinaryData.FromString("hi"));

        var text = (await container.GetBlobClient("hello.txt").DownloadContentAsync()).Value.Content.ToString();

        Assert.Equal("hi", text);
        Assert.NotEqual(10000, azurite.Server.BlobPort); // never the default port another Azurite may hold
    }

    [Fact]
    public async Task Disposed_azurite_stops_listening()
    {
        var server = await Azurite.AzuriteServer.StartAsync();
        var port = server.BlobPort;
        await server.DisposeAsync();

        using var client = new TcpClient();
        await Assert.ThrowsAsync<SocketException>(() => client.ConnectAsync("127.0.0.1", port));
    }
}
