using System.Globalization;
using Rmt.Training.Model;
using static TorchSharp.torch;

namespace Rmt.GpuJob.Commands;

/// <summary>Plain "--name value" and "--flag" options. Unknown or unused options are errors, so a
/// typo never silently falls back to a default.</summary>
public sealed class CommandArgs
{
    private readonly Dictionary<string, string?> values = new(StringComparer.Ordinal);
    private readonly HashSet<string> used = new(StringComparer.Ordinal);

    public CommandArgs(IReadOnlyList<string> args)
    {
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            if (!a.StartsWith("--", StringComparison.Ordinal) || a.Length < 3)
                throw new UsageException($"unexpected argument '{a}'; options look like --name value");
            string name = a[2..];
            string? value = null;
            int eq = name.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                value = name[(eq + 1)..];
                name = name[..eq];
            }
            else if (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                value = args[++i];
            }
            if (!values.TryAdd(name, value)) throw new UsageException($"option --{name} is given twice");
        }
    }

    public string? Optional(string name)
    {
        used.Add(name);
        if (!values.TryGetValue(name, out var v)) return null;
        return v ?? throw new UsageException($"option --{name} needs a value");
    }

    public string Required(string name) => Optional(name) ?? throw new UsageException($"option --{name} is required");

    public bool Flag(string name)
    {
        used.Add(name);
        if (!values.TryGetValue(name, out var v)) return false;
        return v is null || v is "true" or "1"
            ? true
            : v is "false" or "0" ? false : throw new UsageException($"option --{name} is a flag; it takes no value (got '{v}')");
    }

    public int Int(string name, int fallback)
    {
        var s = Optional(name);
        if (s is null) return fallback;
        return int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : throw new UsageException($"option --{name} needs an integer, got '{s}'");
    }

    public double Double(string name, double fallback)
    {
        var s = Optional(name);
        if (s is null) return fallback;
        return double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : throw new UsageException($"option --{name} needs a number, got '{s}'");
    }

    /// <summary>--device (default cpu) and --threads, applied to torch.</summary>
    public Device Device()
    {
        int threads = Int("threads", 0);
        if (threads > 0) set_num_threads(threads);
        return Devices.Parse(Optional("device") ?? "cpu");
    }

    /// <summary>Fails on options the command never asked about.</summary>
    public void EnsureAllUsed()
    {
        var unknown = values.Keys.Where(k => !used.Contains(k)).ToList();
        if (unknown.Count > 0) throw new UsageException($"unknown option{(unknown.Count > 1 ? "s" : "")}: {string.Join(", ", unknown.Select(u => "--" + u))}");
    }
}
