using System.Text.RegularExpressions;

namespace Rmt.Contracts;

/// <summary>Small checks for the Validate() methods of configs and messages. Each throws a
/// <see cref="ContractException"/> that names the field, the value and the valid range.</summary>
public static partial class Validation
{
    public static void Range(long value, long min, long max, string field)
    {
        if (value < min || value > max)
            throw new ContractException($"{field} is {value}; it must be between {min} and {max}");
    }

    public static void Range(double value, double min, double max, string field)
    {
        if (double.IsNaN(value) || value < min || value > max)
            throw new ContractException($"{field} is {value}; it must be between {min} and {max}");
    }

    public static void NotEmpty(string? value, string field)
    {
        if (string.IsNullOrWhiteSpace(value))
            throw new ContractException($"{field} is missing or empty; set it");
    }

    /// <summary>Run ids and stage ids become blob path segments and queue names: lower-case
    /// letters, digits and dashes, 1 to 40 characters, starting with a letter or digit.</summary>
    public static void Id(string? value, string field)
    {
        NotEmpty(value, field);
        if (!IdPattern().IsMatch(value!))
            throw new ContractException(
                $"{field} '{value}' is not a valid id; use 1-40 lower-case letters, digits and dashes, starting with a letter or digit");
    }

    public static bool IsId(string? value) => value is not null && IdPattern().IsMatch(value);

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,39}$")]
    private static partial Regex IdPattern();
}
