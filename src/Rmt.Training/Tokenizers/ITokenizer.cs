namespace Rmt.Training.Tokenizers;

/// <summary>Text to token ids and back. Special tokens written in the text (e.g. "&lt;think&gt;")
/// encode to their ids; decoding writes them back as text, so Decode(Encode(s)) == s.</summary>
public interface ITokenizer
{
    int VocabSize { get; }

    /// <summary>End of text / document separator ("&lt;|endoftext|&gt;").</summary>
    int EndOfText { get; }

    /// <summary>Opens a reasoning span ("&lt;think&gt;").</summary>
    int ThinkStart { get; }

    /// <summary>Closes a reasoning span ("&lt;/think&gt;").</summary>
    int ThinkEnd { get; }

    int[] Encode(string text);

    string Decode(IEnumerable<int> ids);

    /// <summary>Writes the tokenizer files (tokenizer.json, vocab.json, merges.txt) into <paramref name="dir"/>.</summary>
    void Save(string dir);
}

/// <summary>A tokenizer file that cannot be used; the message names the file and the problem.</summary>
public sealed class TokenizerFormatException : Exception
{
    public TokenizerFormatException(string message) : base(message) { }
    public TokenizerFormatException(string message, Exception inner) : base(message, inner) { }
    public TokenizerFormatException() { }
}
