using System.CommandLine;
using System.CommandLine.Invocation;
using Microsoft.Extensions.Logging;
using Rmt.Cloud.Azurite;
using Rmt.Local;
using Rmt.Local.Demo;
using Rmt.Local.Jobs;

// The local host of RMT (./run.sh). See LocalCommand for the options (--help lists them).
var (commandLine, bind) = LocalCommand.CreateCommandLine();
var parse = commandLine.Parse(args);
if (parse.Action is ParseErrorAction)
{
    foreach (var error in parse.Errors) Console.Error.WriteLine($"rmt-local: {error.Message}");
    Console.Error.WriteLine("see: ./run.sh --help");
    return 2;
}
if (parse.Action is not null) return parse.Invoke();   // --help, --version
var command = bind(parse);

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    Console.Error.WriteLine("rmt-local: stopping (the running job saves a checkpoint; start again to continue)...");
    stop.Cancel();
};
using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c =>
{
    c.Cancel = true;
    stop.Cancel();
});

var repoRoot = command.RepoRoot ?? AzuriteServer.FindRepoRoot();
var dataDir = Path.GetFullPath(command.DataDir ?? Path.Combine(repoRoot, ".rmt"));
var options = new LocalHostOptions
{
    RepoRoot = repoRoot,
    DataDir = dataDir,
    StorageConnectionString = command.StorageConnectionString,
    Port = command.Port ?? (command.Serve ? 7071 : 0),
    JsonLogs = command.JsonLogs,
    TraceToConsole = command.Trace,
    LogLevel = command.Verbose ? LogLevel.Debug : LogLevel.Information,
    JobRunner = new LocalJobRunnerOptions
    {
        Command = LocalJobRunnerOptions.ForGpuJob(command.GpuJobDll ?? LocalJobRunnerOptions.FindGpuJob(repoRoot, LocalCommand.BuildConfiguration())),
        WorkRoot = Path.Combine(dataDir, "jobs"),
        TraceToConsole = command.Trace,
    },
};

LocalHost host;
try
{
    host = await LocalHost.StartAsync(options, stop.Token);
}
catch (Exception e) when (e is FileNotFoundException or InvalidOperationException or ArgumentException or OperationCanceledException)
{
    Console.Error.WriteLine($"rmt-local: could not start: {e.Message}");
    return 1;
}

await using (host)
{
    var exitCode = 0;
    try
    {
        if (command.Demo)
            exitCode = await new DemoRun(host, new DemoOptions { Size = command.Size, Gsm8kFolder = command.Gsm8kFolder }, Console.Out).RunAsync(stop.Token);
        if (command.Serve)
        {
            Console.WriteLine($"Serving the RMT API at {host.ApiBase}/pipelines (Ctrl+C stops; runs continue at the next start).");
            Console.WriteLine($"  curl -s -X POST {host.ApiBase}/pipelines -H 'content-type: application/json' -d @request.json");
            await host.WaitForShutdownAsync(stop.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }
    catch (OperationCanceledException) when (stop.IsCancellationRequested)
    {
        exitCode = 130;
    }
    return exitCode;
}
