using System.Globalization;

namespace Rmt.Jobs.Cli;

/// <summary>A command's options: "--name value" pairs and "--flag" switches. Every option must be
/// declared; an unknown one, a missing value or a bad number fails with a message naming it.</summary>
public sealed class CliArgs
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);

    private CliArgs(string command) => Command = command;

    public string Command { get; }

    public bool Help { get; private set; }

    /// <param name="valueOptions">Options that take a value, without "--".</param>
    /// <param name="flags">Options that take none.</param>
    public static CliArgs Parse(string command, IReadOnlyList<string> args, IReadOnlyCollection<string> valueOptions, IReadOnlyCollection<string> flags)
    {
        var parsed = new CliArgs(command);
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg is "--help" or "-h")
            {
                parsed.Help = true;
                continue;
            }
            if (!arg.StartsWith("--", StringComparison.Ordinal))
                throw new CliException($"{command}: unexpected argument '{arg}'; options start with --. See `{command} --help`");
            var name = arg[2..];
            string? inlineValue = null;
            var eq = name.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                inlineValue = name[(eq + 1)..];
                name = name[..eq];
            }
            if (flags.Contains(name))
            {
                if (inlineValue is not null) throw new CliException($"{command}: --{name} takes no value");
                parsed._values[name] = null;
            }
            else if (valueOptions.Contains(name))
            {
                var value = inlineValue ?? (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i] : null);
                if (string.IsNullOrEmpty(value)) throw new CliException($"{command}: --{name} needs a value");
                parsed._values[name] = value;
            }
            else
            {
                var known = valueOptions.Concat(flags).Select(o => "--" + o).Order(StringComparer.Ordinal);
                throw new CliException($"{command}: unknown option --{name}; known options: {string.Join(", ", known)}, --help");
            }
        }
        return parsed;
    }

    public bool Has(string name) => _values.ContainsKey(name);

    public string? Get(string name) => _values.TryGetValue(name, out var value) ? value : null;

    public string Require(string name, string what) =>
        Get(name) ?? throw new CliException($"{Command}: --{name} is required ({what}). See `{Command} --help`");

    public int Int(string name, int fallback, int min = int.MinValue, int max = int.MaxValue)
    {
        var text = Get(name);
        if (text is null) return fallback;
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
            throw new CliException($"{Command}: --{name} is '{text}'; give a whole number between {min} and {max}");
        return value;
    }

    public double Seconds(string name, double fallback)
    {
        var text = Get(name);
        if (text is null) return fallback;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value < 0 || double.IsInfinity(value))
            throw new CliException($"{Command}: --{name} is '{text}'; give seconds as a number >= 0");
        return value;
    }
}

/// <summary>A command line that cannot run; the message says what to change. Exit code 2.</summary>
public sealed class CliException : Exception
{
    public CliException(string message) : base(message) { }
    public CliException(string message, Exception inner) : base(message, inner) { }
    public CliException() { }
}
