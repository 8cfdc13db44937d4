using Rmt.GpuJob.Commands;

namespace Rmt.GpuJob;

/// <summary>Thin dispatcher: the first argument names a command, each command lives in its own
/// file under Commands/ and parses its own options.</summary>
public static class Program
{
    /// <summary>Every command, in the order --help lists them. Add new commands here.</summary>
    public static IReadOnlyList<ICommand> Commands { get; } =
    [
        new TokenizeCommand(),
        new GenerateCommand(),
        new BenchCommand(),
        new RunJobCommand(),
        new TrainStageCommand(),
        new EvalStageCommand(),
    ];

    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        if (args.Length == 0 || args[0] is "--help" or "-h" or "help")
        {
            WriteHelp(output);
            return args.Length == 0 ? 2 : 0;
        }
        var command = Commands.FirstOrDefault(c => c.Name == args[0]);
        if (command is null)
        {
            error.WriteLine($"unknown command '{args[0]}'; commands: {string.Join(", ", Commands.Select(c => c.Name))} (see --help)");
            return 2;
        }
        var rest = args[1..];
        if (rest.Contains("--help") || rest.Contains("-h"))
        {
            output.WriteLine($"usage: Rmt.GpuJob {command.Name} {command.Usage}");
            output.WriteLine(command.Summary);
            return 0;
        }
        try
        {
            return command.Run(new CommandArgs(rest), output);
        }
        catch (UsageException e)
        {
            error.WriteLine($"{command.Name}: {e.Message}");
            error.WriteLine($"usage: Rmt.GpuJob {command.Name} {command.Usage}");
            return 2;
        }
        catch (Exception e) when (e is ArgumentException or IOException or FormatException or InvalidOperationException
                                      or Rmt.Training.Model.ModelFormatException or Rmt.Training.Tokenizers.TokenizerFormatException)
        {
            error.WriteLine($"{command.Name}: {e.Message}");
            return 1;
        }
    }

    private static void WriteHelp(TextWriter output)
    {
        output.WriteLine("Rmt.GpuJob: RMT trainer and model tools (TorchSharp).");
        output.WriteLine("usage: Rmt.GpuJob <command> [options]   (Rmt.GpuJob <command> --help for its options)");
        output.WriteLine();
        foreach (var c in Commands) output.WriteLine($"  {c.Name,-10} {c.Summary}");
        output.WriteLine();
        output.WriteLine("Common options: --device cpu|cuda|cuda:N (default cpu), --threads N (torch intra-op threads).");
    }
}
