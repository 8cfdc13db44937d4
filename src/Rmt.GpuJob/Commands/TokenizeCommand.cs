using Rmt.Training.Tokenizers;

namespace Rmt.GpuJob.Commands;

/// <summary>Prints the token ids of a text, space separated on one line.</summary>
public sealed class TokenizeCommand : ICommand
{
    public string Name => "tokenize";
    public string Summary => "print the token ids of --text (one line, space separated); --decode turns ids back into text";
    public string Usage => "--tokenizer DIR (--text TEXT | --decode \"ID ID ...\")";

    public int Run(CommandArgs args, TextWriter output)
    {
        var dir = args.Required("tokenizer");
        var text = args.Optional("text");
        var decode = args.Optional("decode");
        args.EnsureAllUsed();
        if ((text is null) == (decode is null)) throw new UsageException("give exactly one of --text or --decode");
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
