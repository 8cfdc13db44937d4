using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace Rmt.Training.Checkpoints;

/// <summary>Reader and writer of the safetensors format: an 8-byte little-endian header length, a
/// JSON header {name: {dtype, shape, data_offsets: [begin, end)}, "__metadata__": {...}}, then the
/// raw little-endian tensor bytes. Exact: bytes in are bytes out.</summary>
public static class SafeTensors
{
    private static readonly Dictionary<string, ScalarType> DtypeByName = new()
    {
        ["F64"] = ScalarType.Float64, ["F32"] = ScalarType.Float32, ["F16"] = ScalarType.Float16,
        ["BF16"] = ScalarType.BFloat16, ["I64"] = ScalarType.Int64, ["I32"] = ScalarType.Int32,
        ["I16"] = ScalarType.Int16, ["I8"] = ScalarType.Int8, ["U8"] = ScalarType.Byte, ["BOOL"] = ScalarType.Bool,
    };

    public static string DtypeName(ScalarType type) =>
        DtypeByName.FirstOrDefault(kv => kv.Value == type).Key
        ?? throw new ArgumentException($"dtype {type} cannot be stored in safetensors here", nameof(type));

    /// <summary>Header entry of one tensor.</summary>
    public sealed record Entry(string Name, string Dtype, long[] Shape, long Begin, long End);

    /// <summary>Reads the header of a safetensors file.</summary>
    public static (IReadOnlyDictionary<string, Entry> Entries, long DataStart, IReadOnlyDictionary<string, string> Metadata) ReadHeader(string path)
    {
        using var stream = File.OpenRead(path);
        return ReadHeader(stream, path);
    }

    private static (IReadOnlyDictionary<string, Entry>, long, IReadOnlyDictionary<string, string>) ReadHeader(Stream stream, string path)
    {
        Span<byte> lengthBytes = stackalloc byte[8];
        try
        {
            stream.ReadExactly(lengthBytes);
        }
        catch (EndOfStreamException e)
        {
            throw new FormatException($"{path} is not a safetensors file (shorter than 8 bytes)", e);
        }
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength == 0 || headerLength > 100_000_000 || (long)headerLength > stream.Length - 8)
            throw new FormatException($"{path} is not a safetensors file (header length {headerLength} is invalid)");
        var headerBytes = new byte[headerLength];
        stream.ReadExactly(headerBytes);
        JsonObject header;
        try
        {
            header = JsonNode.Parse(headerBytes) as JsonObject ?? throw new FormatException($"{path}: safetensors header is not a JSON object");
        }
        catch (JsonException e)
        {
            throw new FormatException($"{path}: safetensors header does not parse: {e.Message}", e);
        }

        var entries = new Dictionary<string, Entry>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__")
            {
                foreach (var (k, v) in node!.AsObject()) metadata[k] = v?.GetValue<string>() ?? "";
                continue;
            }
            var dtype = node!["dtype"]!.GetValue<string>();
            var shape = node["shape"]!.AsArray().Select(d => d!.GetValue<long>()).ToArray();
            var offsets = node["data_offsets"]!.AsArray().Select(d => d!.GetValue<long>()).ToArray();
            entries[name] = new Entry(name, dtype, shape, offsets[0], offsets[1]);
        }
        return (entries, 8 + (long)headerLength, metadata);
    }

    /// <summary>Loads every tensor (on the CPU, in its stored dtype).</summary>
    public static Dictionary<string, Tensor> Load(string path) => Load(path, null);

    /// <summary>Loads the named tensors (all when <paramref name="names"/> is null) on the CPU.</summary>
    public static Dictionary<string, Tensor> Load(string path, IReadOnlySet<string>? names)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"safetensors file '{path}' does not exist", path);
        using var stream = File.OpenRead(path);
        var (entries, dataStart, _) = ReadHeader(stream, path);
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var entry in entries.Values.OrderBy(e => e.Begin))
        {
            if (names is not null && !names.Contains(entry.Name)) continue;
            if (!DtypeByName.TryGetValue(entry.Dtype, out var dtype))
                throw new FormatException($"{path}: tensor '{entry.Name}' has dtype {entry.Dtype}, which is not supported (supported: {string.Join(", ", DtypeByName.Keys)})");
            long length = entry.End - entry.Begin;
            long expected = entry.Shape.Aggregate(1L, (a, d) => a * d) * ElementSize(dtype);
            if (length != expected)
                throw new FormatException($"{path}: tensor '{entry.Name}' holds {length} bytes but shape [{string.Join(", ", entry.Shape)}] {entry.Dtype} needs {expected}");
            var bytes = new byte[length];
            stream.Position = dataStart + entry.Begin;
            stream.ReadExactly(bytes);
            var tensor = empty(entry.Shape, dtype).DetachFromDisposeScope();
            if (length > 0) tensor.bytes = bytes;
            result[entry.Name] = tensor;
        }
        return result;
    }

    /// <summary>Writes tensors (any device; copied to the CPU) in name order, header padded to 8 bytes.</summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var ordered = tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        var header = new JsonObject();
        var meta = new JsonObject();
        foreach (var (k, v) in metadata ?? new Dictionary<string, string> { ["format"] = "pt" }) meta[k] = v;
        header["__metadata__"] = meta;
        long offset = 0;
        foreach (var (name, tensor) in ordered)
        {
            long size = tensor.numel() * ElementSize(tensor.dtype);
            header[name] = new JsonObject
            {
                ["dtype"] = DtypeName(tensor.dtype),
                ["shape"] = new JsonArray([.. tensor.shape.Select(d => (JsonNode)d)]),
                ["data_offsets"] = new JsonArray(offset, offset + size),
            };
            offset += size;
        }
        var headerBytes = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (headerBytes.Length + 7) / 8 * 8;
        var headerPadded = new byte[padded];
        Array.Fill(headerPadded, (byte)' ');
        headerBytes.CopyTo(headerPadded, 0);

        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        using var stream = File.Create(path);
        Span<byte> lengthBytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(lengthBytes, (ulong)padded);
        stream.Write(lengthBytes);
        stream.Write(headerPadded);
        foreach (var (_, tensor) in ordered)
        {
            if (tensor.numel() == 0) continue;
            using var cpu = tensor.detach().cpu().contiguous();
            stream.Write(cpu.bytes);
        }
    }

    public static int ElementSize(ScalarType type) => type switch
    {
        ScalarType.Float64 or ScalarType.Int64 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
        ScalarType.Int8 or ScalarType.Byte or ScalarType.Bool => 1,
        _ => throw new ArgumentException($"dtype {type} is not supported in safetensors here", nameof(type)),
    };
}
