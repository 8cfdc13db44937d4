using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Rmt.Cloud;

/// <summary>Storage queue names: 3-63 characters, lower-case letters, digits and single dashes,
/// starting and ending with a letter or digit. Every queue has a "{queue}-poison" twin, so a queue
/// name may use at most <see cref="MaxBaseLength"/> characters.</summary>
public static partial class StorageQueueNames
{
    public const int MaxLength = 63;
    public const string PoisonSuffix = "-poison";
    public const int MaxBaseLength = MaxLength - 7; // room for PoisonSuffix
    private const int HashLength = 8;

    public static string Poison(string queueName) => queueName + PoisonSuffix;

    public static bool IsValid(string? name) =>
        name is { Length: >= 3 and <= MaxLength } && NamePattern().IsMatch(name) && !name.Contains("--", StringComparison.Ordinal);

    /// <summary>Throws naming <paramref name="setting"/> when the name is not a valid queue name
    /// that leaves room for its poison twin.</summary>
    public static void Validate(string name, string setting)
    {
        if (!IsValid(name) || name.Length > MaxBaseLength)
            throw new ArgumentException(
                $"{setting} '{name}' is not a usable storage queue name; use 3-{MaxBaseLength} lower-case letters, digits and " +
                "single dashes, starting and ending with a letter or digit", nameof(name));
    }

    /// <summary>The event queue of a run: "{prefix}-{runId}" when that is a valid name; otherwise the
    /// run id is sanitized (lower case, other characters and repeated dashes become one dash,
    /// shortened) and 8 hex digits of its SHA-256 are appended, so distinct run ids keep distinct
    /// queues.</summary>
    public static string ForRun(string prefix, string runId)
    {
        ArgumentException.ThrowIfNullOrEmpty(runId);
        var plain = $"{prefix}-{runId}";
        if (IsValid(plain) && plain.Length <= MaxBaseLength) return plain;

        var clean = new StringBuilder();
        foreach (var c in runId.ToLowerInvariant())
        {
            if (c is (>= 'a' and <= 'z') or (>= '0' and <= '9')) clean.Append(c);
            else if (clean.Length > 0 && clean[^1] != '-') clean.Append('-');
        }
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(runId)))[..HashLength];
        var head = $"{prefix}-{clean}";
        head = head[..Math.Min(head.Length, MaxBaseLength - HashLength - 1)].Trim('-');
        return $"{head}-{hash}";
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9-]*[a-z0-9]$")]
    private static partial Regex NamePattern();
}
