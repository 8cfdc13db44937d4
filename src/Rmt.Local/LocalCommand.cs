using System.Globalization;
using Rmt.Local.Demo;

namespace Rmt.Local;

/// <summary>The command line of the local host.</summary>
public sealed record LocalCommand
{
    public const string Usage = """
        usage: rmt-local [--demo] [--serve] [options]
          (no mode)          run the demo pipeline to the end, print its progress and where its report is
          --serve            keep the HTTP API up (default port 7071) until Ctrl+C; with --demo, after the demo
        options:
          --port N           HTTP API port on 127.0.0.1 (0: a free one)
          --data DIR         Azurite data, job logs and reports (default: {repo}/.rmt; keep it to resume runs)
          --storage CONN     use this Azurite connection string instead of starting Azurite
          --size demo|tiny   demo pipeline size (tiny: seconds per stage, for smoke tests)
          --gsm8k DIR        post-train on GSM8K (DIR holds train.jsonl, test.jsonl) instead of generated problems
          --gpujob DLL       the trainer (default: src/Rmt.GpuJob/bin/{Release|Debug}/net10.0/Rmt.GpuJob.dll)
          --repo DIR         repository root (default: found from this program's folder)
          --json-logs        JSON log lines
          --trace            print OpenTelemetry spans to the console (the trainer's go to its job log; --verbose shows them)
          --verbose          debug logs, including the trainer's output
        """;

    public bool Demo { get; init; }
    public bool Serve { get; init; }
    public bool Help { get; init; }
    public int? Port { get; init; }
    public string? DataDir { get; init; }
    public string? StorageConnectionString { get; init; }
    public DemoSize Size { get; init; } = DemoSize.Demo;
    public string? Gsm8kFolder { get; init; }
    public string? GpuJobDll { get; init; }
    public string? RepoRoot { get; init; }
    public bool JsonLogs { get; init; }
    public bool Trace { get; init; }
    public bool Verbose { get; init; }

    public static LocalCommand Parse(IReadOnlyList<string> args)
    {
        var command = new LocalCommand();
        var explicitDemo = false;
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            string Value() => i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal)
                ? args[++i]
                : throw new ArgumentException($"{arg} needs a value");
            command = arg switch
            {
                "--demo" => command with { Demo = explicitDemo = true },
                "--serve" => command with { Serve = true },
                "--help" or "-h" => command with { Help = true },
                "--port" => command with { Port = PortOf(Value()) },
                "--data" => command with { DataDir = Value() },
                "--storage" => command with { StorageConnectionString = Value() },
                "--size" => command with { Size = SizeOf(Value()) },
                "--gsm8k" => command with { Gsm8kFolder = Value() },
                "--gpujob" => command with { GpuJobDll = Value() },
                "--repo" => command with { RepoRoot = Value() },
                "--json-logs" => command with { JsonLogs = true },
                "--trace" => command with { Trace = true },
                "--verbose" => command with { Verbose = true },
                _ => throw new ArgumentException($"unknown argument '{arg}'"),
            };
        }
        return command with { Demo = explicitDemo || !command.Serve };
    }

    /// <summary>The configuration this program was built in (Release under ./run.sh): its trainer is
    /// looked for in the same one.</summary>
    public static string BuildConfiguration() =>
        AppContext.BaseDirectory.Replace('\\', '/').Contains("/bin/Debug/", StringComparison.Ordinal) ? "Debug" : "Release";

    private static int PortOf(string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is >= 0 and <= 65535
            ? port
            : throw new ArgumentException($"--port '{value}' is not a port number (0-65535)");

    private static DemoSize SizeOf(string value) => value switch
    {
        "demo" => DemoSize.Demo,
        "tiny" => DemoSize.Tiny,
        _ => throw new ArgumentException($"--size '{value}' is not known; use demo or tiny"),
    };
}
