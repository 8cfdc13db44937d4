using System.CommandLine;
using Rmt.Training.Tokenizers;

namespace Rmt.GpuJob.Commands;

/// <summary>`tokenize`: prints the token ids of a text, space separated on one line.</summary>
public static class TokenizeCommand
{
    public static Command Create()
    {
        var tokenizerOption = new Option<string>("--tokenizer") { Description = "tokenizer folder", HelpName = "DIR", Required = true };
        var textOption = new Option<string>("--text") { Description = "text to encode", HelpName = "TEXT" };
        var decodeOption = new Option<string>("--decode") { Description = "token ids to decode back into text", HelpName = "\"ID ID ...\"" };
        var command = new Command("tokenize", "print the token ids of --text (one line, space separated); --decode turns ids back into text")
        {
            tokenizerOption, textOption, decodeOption,
        };
        CommandParts.RequireExactlyOne(command, textOption, decodeOption);
        command.SetAction(parse => Run(parse.GetRequiredValue(tokenizerOption), parse.GetValue(textOption), parse.GetValue(decodeOption),
            parse.InvocationConfiguration.Output));
        return command;
    }

    private static int Run(string dir, string? text, string? decode, TextWriter output)
    {
        var tokenizer = TokenizerLoader.Load(dir);
        if (text is not null) output.WriteLine(string.Join(' ', tokenizer.Encode(text)));
        else output.WriteLine(tokenizer.Decode(Ids.Parse(decode!, "--decode")));
        return 0;
    }
}

internal static class Ids
{
    public static int[] Parse(string text, string option)
    {
        try
        {
            return [.. text.Split([' ', ',', '\t'], StringSplitOptions.RemoveEmptyEntries).Select(s => int.Parse(s, System.Globalization.CultureInfo.InvariantCulture))];
        }
        catch (FormatException e)
        {
            throw new UsageException($"{option} must be token ids separated by spaces, got '{text}'", e);
        }
    }
}
