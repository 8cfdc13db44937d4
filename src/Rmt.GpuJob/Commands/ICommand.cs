namespace Rmt.GpuJob.Commands;

/// <summary>One sub-command of the CLI.</summary>
public interface ICommand
{
    string Name { get; }

    /// <summary>One line for --help.</summary>
    string Summary { get; }

    /// <summary>Options after the command name, e.g. "--tokenizer DIR --text TEXT".</summary>
    string Usage { get; }

    /// <summary>Runs the command; returns the process exit code.</summary>
    int Run(CommandArgs args, TextWriter output);
}

/// <summary>A command line that cannot be run as given (the message says what is wrong).</summary>
public sealed class UsageException : Exception
{
    public UsageException(string message) : base(message) { }
    public UsageException(string message, Exception inner) : base(message, inner) { }
    public UsageException() { }
}
