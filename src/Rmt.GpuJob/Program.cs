using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using Rmt.GpuJob.Commands;

namespace Rmt.GpuJob;

/// <summary>The trainer's command line (System.CommandLine): the first argument names a command, each
/// command lives in its own file under Commands/ with its options. Exit codes: 0 done, 1 a command
/// failed on its input (a file, a model), 2 the command line is wrong; `run`, `train` and `eval` add
/// the job's codes (<see cref="Rmt.Contracts.JobExitCode"/>).</summary>
public static class Program
{
    /// <summary>Every command, in the order --help lists them. Add new commands here.</summary>
    public static RootCommand CreateRootCommand()
    {
        var root = new RootCommand("Rmt.GpuJob: RMT trainer and model tools (TorchSharp).")
        {
            TokenizeCommand.Create(),
            GenerateCommand.Create(),
            BenchCommand.Create(),
            RunJobCommand.Create(),
            TrainStageCommand.Create(),
            EvalStageCommand.Create(),
        };
        var help = root.Options.OfType<HelpOption>().Single();
        help.Action = new HelpWithNotes((HelpAction)help.Action!, new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["run"] = RunCommand.Usage,
            ["train"] = LocalCommands.TrainUsage,
            ["eval"] = LocalCommands.EvalUsage,
        });
        return root;
    }

    public static Task<int> Main(string[] args) => RunAsync(args, Console.Out, Console.Error);

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        var root = CreateRootCommand();
        // Exceptions reach the catch blocks below (the library's handler would print a stack trace).
        // Ctrl+C and SIGTERM stay with the job's own handlers (JobSignals: stop at a step boundary,
        // save a checkpoint); the library's default would cancel and kill the process after 2 s.
        var invocation = new InvocationConfiguration
        {
            Output = output, Error = error, EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null,
        };
        if (args.Length == 0)
        {
            root.Parse(["--help"]).Invoke(invocation);
            return 2;
        }
        if (!args[0].StartsWith('-') && !root.Subcommands.Any(c => c.Name == args[0]))
        {
            error.WriteLine($"unknown command '{args[0]}'; commands: {string.Join(", ", root.Subcommands.Select(c => c.Name))} (see --help)");
            return 2;
        }

        var parse = root.Parse(args);
        var name = parse.CommandResult.Command == root ? "Rmt.GpuJob" : parse.CommandResult.Command.Name;
        if (parse.Action is ParseErrorAction)
        {
            foreach (var parseError in parse.Errors) error.WriteLine($"{name}: {parseError.Message}");
            error.WriteLine($"see: Rmt.GpuJob {(name == "Rmt.GpuJob" ? "" : name + " ")}--help");
            return 2;
        }
        try
        {
            return await parse.InvokeAsync(invocation);
        }
        catch (UsageException e)
        {
            error.WriteLine($"{name}: {e.Message}");
            error.WriteLine($"see: Rmt.GpuJob {name} --help");
            return 2;
        }
        catch (Exception e) when (e is ArgumentException or IOException or FormatException or InvalidOperationException
                                      or Rmt.Training.Model.ModelFormatException or Rmt.Training.Tokenizers.TokenizerFormatException)
        {
            error.WriteLine($"{name}: {e.Message}");
            return 1;
        }
    }
}

/// <summary>The library's help, then the command's notes (settings, exit codes) below its options.</summary>
internal sealed class HelpWithNotes(HelpAction help, IReadOnlyDictionary<string, string> notes) : SynchronousCommandLineAction
{
    public override bool ClearsParseErrors => true;

    public override int Invoke(ParseResult parseResult)
    {
        var code = help.Invoke(parseResult);
        if (notes.TryGetValue(parseResult.CommandResult.Command.Name, out var text))
            parseResult.InvocationConfiguration.Output.WriteLine(text);
        return code;
    }
}
