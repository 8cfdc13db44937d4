using System.CommandLine;
using Rmt.Training.Model;
using static TorchSharp.torch;

namespace Rmt.GpuJob.Commands;

/// <summary>A command line that parsed but cannot be run as given (the message says what is wrong);
/// exit code 2, like a parse error.</summary>
public sealed class UsageException : Exception
{
    public UsageException(string message) : base(message) { }
    public UsageException(string message, Exception inner) : base(message, inner) { }
    public UsageException() { }
}

/// <summary>Options and checks several commands share.</summary>
internal static class CommandParts
{
    /// <summary>--device of the model tools (parsed by torch's names when the command runs).</summary>
    public static Option<string> DeviceOption() => new("--device")
    {
        Description = "cpu, cuda or cuda:N",
        DefaultValueFactory = _ => "cpu",
    };

    /// <summary>--threads: torch intra-op threads (0: torch's default).</summary>
    public static Option<int> ThreadsOption() => new("--threads")
    {
        Description = "torch intra-op threads (0: torch's default)",
        DefaultValueFactory = _ => 0,
    };

    /// <summary>Applies --threads to torch and returns the --device.</summary>
    public static Device TorchDevice(ParseResult parse, Option<string> device, Option<int> threads)
    {
        int count = parse.GetValue(threads);
        if (count > 0) set_num_threads(count);
        return Devices.Parse(parse.GetRequiredValue(device));
    }

    /// <summary>A parse error unless exactly one of the two options is given.</summary>
    public static void RequireExactlyOne(Command command, Option first, Option second) =>
        command.Validators.Add(result =>
        {
            if ((result.GetResult(first) is null) == (result.GetResult(second) is null))
                result.AddError($"give exactly one of {first.Name} or {second.Name}");
        });
}
