using DurableTask.AzureStorage;

namespace Rmt.Local.Hosting;

/// <summary>The gRPC sidecar hands sub-orchestration tags to the backend as a protobuf MapField;
/// DurableTask.AzureStorage writes queue messages with Json.NET type names and cannot resolve that type
/// when it reads them back ("Could not resolve type 'Google.Protobuf.Collections.MapField`2'"), so the
/// sub-orchestration never starts. This binder writes and reads such maps as Dictionary&lt;string, string&gt;.</summary>
internal sealed class ProtobufMapTypeBinder : ICustomTypeBinder
{
    private const string MapFieldPrefix = "Google.Protobuf.Collections.MapField`2";

    public void BindToName(Type serializedType, out string assemblyName, out string typeName)
    {
        var type = serializedType.FullName?.StartsWith(MapFieldPrefix, StringComparison.Ordinal) == true
            ? typeof(Dictionary<string, string>)
            : serializedType;
        assemblyName = type.Assembly.FullName!;
        typeName = type.FullName!;
    }

    public Type BindToType(string assemblyName, string typeName) =>
        typeName.StartsWith(MapFieldPrefix, StringComparison.Ordinal)
            ? typeof(Dictionary<string, string>)
            : Type.GetType(string.IsNullOrEmpty(assemblyName) ? typeName : $"{typeName}, {assemblyName}", throwOnError: true)!;
}
