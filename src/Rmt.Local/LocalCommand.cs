using System.CommandLine;
using System.Globalization;
using Rmt.Local.Demo;

namespace Rmt.Local;

/// <summary>The command line of the local host, parsed by System.CommandLine (help, typed values,
/// errors); <see cref="Parse"/> binds it to this record.</summary>
public sealed record LocalCommand
{
    public bool Demo { get; init; }
    public bool Serve { get; init; }
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

    /// <summary>The root command and how a successful parse becomes a <see cref="LocalCommand"/>.</summary>
    public static (RootCommand Root, Func<ParseResult, LocalCommand> Bind) CreateCommandLine()
    {
        var demo = new Option<bool>("--demo") { Description = "run the demo pipeline (the default when --serve is not given)" };
        var serve = new Option<bool>("--serve") { Description = "keep the HTTP API up (default port 7071) until Ctrl+C; with --demo, after the demo" };
        var port = new Option<int?>("--port")
        {
            Description = "HTTP API port on 127.0.0.1 (0: a free one)",
            HelpName = "N",
            CustomParser = result => result.Tokens.Count == 0 ? null : PortOf(result.Tokens[0].Value, result),
        };
        var data = new Option<string>("--data") { Description = "Azurite data, job logs and reports (default: {repo}/.rmt; keep it to resume runs)", HelpName = "DIR" };
        var storage = new Option<string>("--storage") { Description = "use this Azurite connection string instead of starting Azurite", HelpName = "CONN" };
        var size = new Option<DemoSize>("--size")
        {
            Description = "demo pipeline size (default demo; tiny: seconds per stage, for smoke tests)",
            HelpName = "demo|tiny",
            CustomParser = result => result.Tokens.Count == 0 ? DemoSize.Demo : SizeOf(result.Tokens[0].Value, result),
        };
        var gsm8k = new Option<string>("--gsm8k") { Description = "post-train on GSM8K (DIR holds train.jsonl, test.jsonl) instead of generated problems", HelpName = "DIR" };
        var gpuJob = new Option<string>("--gpujob") { Description = "the trainer (default: src/Rmt.GpuJob/bin/{Release|Debug}/net10.0/Rmt.GpuJob.dll)", HelpName = "DLL" };
        var repo = new Option<string>("--repo") { Description = "repository root (default: found from this program's folder)", HelpName = "DIR" };
        var jsonLogs = new Option<bool>("--json-logs") { Description = "JSON log lines" };
        var trace = new Option<bool>("--trace") { Description = "print OpenTelemetry spans to the console (the trainer's go to its job log; --verbose shows them)" };
        var verbose = new Option<bool>("--verbose") { Description = "debug logs, including the trainer's output" };
        var root = new RootCommand(
            "rmt-local: the local host of RMT (./run.sh). With no mode it runs the demo pipeline to the end, prints its\n" +
            "progress and where its report is; --serve keeps the HTTP API up.")
        {
            demo, serve, port, data, storage, size, gsm8k, gpuJob, repo, jsonLogs, trace, verbose,
        };
        return (root, parse =>
        {
            var command = new LocalCommand
            {
                Serve = parse.GetValue(serve),
                Port = parse.GetValue(port),
                DataDir = parse.GetValue(data),
                StorageConnectionString = parse.GetValue(storage),
                Size = parse.GetValue(size),
                Gsm8kFolder = parse.GetValue(gsm8k),
                GpuJobDll = parse.GetValue(gpuJob),
                RepoRoot = parse.GetValue(repo),
                JsonLogs = parse.GetValue(jsonLogs),
                Trace = parse.GetValue(trace),
                Verbose = parse.GetValue(verbose),
            };
            return command with { Demo = parse.GetValue(demo) || !command.Serve };
        });
    }

    /// <summary>Parses and binds; a wrong command line throws <see cref="ArgumentException"/> with the
    /// parser's messages.</summary>
    public static LocalCommand Parse(IReadOnlyList<string> args)
    {
        var (root, bind) = CreateCommandLine();
        var parse = root.Parse(args);
        return parse.Errors.Count > 0
            ? throw new ArgumentException(string.Join("; ", parse.Errors.Select(e => e.Message)))
            : bind(parse);
    }

    /// <summary>The configuration this program was built in (Release under ./run.sh): its trainer is
    /// looked for in the same one.</summary>
    public static string BuildConfiguration() =>
        AppContext.BaseDirectory.Replace('\\', '/').Contains("/bin/Debug/", StringComparison.Ordinal) ? "Debug" : "Release";

    private static int? PortOf(string value, System.CommandLine.Parsing.ArgumentResult result)
    {
        if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is >= 0 and <= 65535) return port;
        result.AddError($"--port '{value}' is not a port number (0-65535)");
        return null;
    }

    private static DemoSize SizeOf(string value, System.CommandLine.Parsing.ArgumentResult result)
    {
        switch (value)
        {
            case "demo": return DemoSize.Demo;
            case "tiny": return DemoSize.Tiny;
            default:
                result.AddError($"--size '{value}' is not known; use demo or tiny");
                return DemoSize.Demo;
        }
    }
}
