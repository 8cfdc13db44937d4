using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Rmt.Training.Tokenizers;

/// <summary>Byte-level BPE as in GPT-2 / Hugging Face tokenizers (Qwen, Llama 3 use the same scheme
/// with their own split regex): split out special tokens, pre-split the rest with a regex, map every
/// UTF-8 byte to a printable character (bytes_to_unicode), then apply merges by rank. With no merges
/// it is a plain byte tokenizer (see <see cref="CreateBytes"/>), still a valid tokenizer.json.</summary>
public sealed class ByteLevelBpeTokenizer : ITokenizer
{
    /// <summary>GPT-2's pre-tokenizer pattern, used by the ByteLevel pre-tokenizer with use_regex.</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    public const string EndOfTextToken = "<|endoftext|>";
    public const string ThinkStartToken = "<think>";
    public const string ThinkEndToken = "</think>";
    private static readonly string[] EndOfTextCandidates = [EndOfTextToken, "<|end_of_text|>", "</s>"];

    private static readonly char[] ByteToChar = BuildByteToChar();
    private static readonly Dictionary<char, byte> CharToByte = ByteToChar.Select((c, b) => (c, b)).ToDictionary(x => x.c, x => (byte)x.b);

    private readonly Dictionary<string, int> vocab;
    private readonly string[] idToToken;
    private readonly Dictionary<(string, string), int> mergeRanks;
    private readonly List<(string Left, string Right)> merges;
    private readonly Dictionary<string, int> specials;
    private readonly HashSet<int> specialIds;
    private readonly Regex splitter;
    private readonly Regex? specialSplitter;
    private readonly bool nfc;
    private readonly string? originalTokenizerJson;
    private readonly Dictionary<string, int[]> wordCache = new(StringComparer.Ordinal);
    private readonly int[] byteIds;   // id of each single byte symbol, -1 when absent

    private ByteLevelBpeTokenizer(Dictionary<string, int> vocab, List<(string, string)> merges, IReadOnlyList<string> specialTokens,
        string pattern, bool nfc, string? originalTokenizerJson, string source)
    {
        this.vocab = vocab;
        this.merges = merges;
        this.nfc = nfc;
        this.originalTokenizerJson = originalTokenizerJson;
        // RMT needs <think> and </think> as single tokens. Tokenizers without them (Qwen2.5,
        // Llama 3) get them as added special tokens with the next free ids; the model needs
        // embedding rows for those ids (Checkpoint.Load checks).
        var missing = new[] { ThinkStartToken, ThinkEndToken }.Where(t => !vocab.ContainsKey(t)).ToList();
        if (missing.Count > 0 && vocab.Count > 0)
        {
            int next = vocab.Values.Max() + 1;
            foreach (var token in missing) vocab[token] = next++;
            specialTokens = [.. specialTokens, .. missing];
        }
        AddedThinkTokens = missing;
        int size = vocab.Count == 0 ? 0 : vocab.Values.Max() + 1;
        idToToken = new string[size];
        foreach (var (token, id) in vocab)
        {
            if (id < 0) throw new TokenizerFormatException($"{source}: token '{token}' has a negative id {id}");
            idToToken[id] = token;
        }
        mergeRanks = new Dictionary<(string, string), int>();
        for (int i = 0; i < merges.Count; i++) mergeRanks.TryAdd(merges[i], i);
        specials = specialTokens.Distinct().Where(vocab.ContainsKey).ToDictionary(t => t, t => vocab[t], StringComparer.Ordinal);
        specialIds = [.. specials.Values];
        splitter = new Regex(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);
        if (specials.Count > 0)
            specialSplitter = new Regex("(" + string.Join("|", specials.Keys.OrderByDescending(s => s.Length).Select(Regex.Escape)) + ")",
                RegexOptions.Compiled | RegexOptions.CultureInvariant);
        byteIds = [.. ByteToChar.Select(c => vocab.TryGetValue(c.ToString(), out var id) ? id : -1)];

        EndOfText = EndOfTextCandidates.Select(t => specials.TryGetValue(t, out var id) ? id : -1).FirstOrDefault(id => id >= 0, -1);
        if (EndOfText < 0)
            throw new TokenizerFormatException($"{source}: no end-of-text token (one of {string.Join(", ", EndOfTextCandidates)}) among the special tokens; add '{EndOfTextToken}'");
        ThinkStart = specials[ThinkStartToken];
        ThinkEnd = specials[ThinkEndToken];
    }

    /// <summary>Whether this runtime can NFC-normalize (it needs ICU; with InvariantGlobalization
    /// .NET returns text unchanged). Where it cannot, a tokenizer.json with an NFC normalizer encodes
    /// text as given, which differs from Hugging Face only for text that is not already NFC
    /// (decomposed accents); most text is NFC.</summary>
    public static bool NormalizationAvailable { get; } = "e\u0301".Normalize(NormalizationForm.FormC) == "\u00e9";

    public int VocabSize => idToToken.Length;

    /// <summary>Think tokens this tokenizer lacked and were added with fresh ids (empty when the
    /// files had them). Saving writes them as added tokens.</summary>
    public IReadOnlyList<string> AddedThinkTokens { get; }
    public int EndOfText { get; }
    public int ThinkStart { get; }
    public int ThinkEnd { get; }
    public IReadOnlyDictionary<string, int> SpecialTokens => specials;

    /// <summary>A byte tokenizer for from-scratch models: ids 0, 1, 2 are &lt;|endoftext|&gt;, &lt;think&gt;,
    /// &lt;/think&gt;; id 3 + b is byte b. Vocabulary 259. Saved as an ordinary tokenizer.json.</summary>
    public static ByteLevelBpeTokenizer CreateBytes()
    {
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal)
        {
            [EndOfTextToken] = 0, [ThinkStartToken] = 1, [ThinkEndToken] = 2,
        };
        for (int b = 0; b < 256; b++) vocab[ByteToChar[b].ToString()] = 3 + b;
        return new ByteLevelBpeTokenizer(vocab, [], [EndOfTextToken, ThinkStartToken, ThinkEndToken], Gpt2Pattern, nfc: false, null, "byte tokenizer");
    }

    /// <summary>Reads a Hugging Face tokenizer.json with a BPE model and a ByteLevel pre-tokenizer
    /// (alone, or after a Split regex as Qwen and Llama 3 do).</summary>
    public static ByteLevelBpeTokenizer FromTokenizerJson(string path)
    {
        string text = ReadFile(path);
        JsonObject root;
        try
        {
            root = JsonNode.Parse(text)?.AsObject() ?? throw new TokenizerFormatException($"{path}: not a JSON object");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new TokenizerFormatException($"{path} does not parse as a tokenizer.json: {e.Message}", e);
        }
        var model = root["model"]?.AsObject() ?? throw new TokenizerFormatException($"{path}: 'model' is missing");
        if (model["type"]?.GetValue<string>() is string type && type != "BPE")
            throw new TokenizerFormatException($"{path}: model type '{type}' is not supported; only byte-level BPE is");
        var vocabNode = model["vocab"]?.AsObject() ?? throw new TokenizerFormatException($"{path}: 'model.vocab' is missing");
        var vocab = vocabNode.ToDictionary(kv => kv.Key, kv => kv.Value!.GetValue<int>(), StringComparer.Ordinal);
        var merges = new List<(string, string)>();
        foreach (var m in model["merges"]?.AsArray() ?? [])
        {
            if (m is JsonArray pair) merges.Add((pair[0]!.GetValue<string>(), pair[1]!.GetValue<string>()));
            else merges.Add(SplitMerge(m!.GetValue<string>(), path));
        }
        var specialTokens = new List<string>();
        foreach (var added in root["added_tokens"]?.AsArray() ?? [])
        {
            var content = added!["content"]!.GetValue<string>();
            vocab[content] = added["id"]!.GetValue<int>();
            specialTokens.Add(content);
        }
        var (pattern, nfc) = PreTokenizer(root, path);
        return new ByteLevelBpeTokenizer(vocab, merges, specialTokens, pattern, nfc, text, path);
    }

    /// <summary>Reads the older vocab.json + merges.txt pair; special tokens are the known ones
    /// (&lt;|endoftext|&gt;, &lt;think&gt;, &lt;/think&gt;, ...) present in the vocabulary.</summary>
    public static ByteLevelBpeTokenizer FromVocabAndMerges(string vocabPath, string mergesPath)
    {
        Dictionary<string, int> vocab;
        try
        {
            vocab = JsonSerializer.Deserialize<Dictionary<string, int>>(ReadFile(vocabPath))
                    ?? throw new TokenizerFormatException($"{vocabPath}: empty");
        }
        catch (JsonException e)
        {
            throw new TokenizerFormatException($"{vocabPath} does not parse as a JSON token-to-id map: {e.Message}", e);
        }
        var merges = ReadFile(mergesPath).Split('\n')
            .Select(l => l.TrimEnd('\r'))
            .Where(l => l.Length > 0 && !l.StartsWith("#version", StringComparison.Ordinal))
            .Select(l => SplitMerge(l, mergesPath))
            .ToList();
        string[] known = [.. EndOfTextCandidates, ThinkStartToken, ThinkEndToken, "<|im_start|>", "<|im_end|>", "<|begin_of_text|>"];
        return new ByteLevelBpeTokenizer(new Dictionary<string, int>(vocab, StringComparer.Ordinal), merges, known, Gpt2Pattern, nfc: false, null, vocabPath);
    }

    private static string ReadFile(string path)
    {
        if (!File.Exists(path)) throw new TokenizerFormatException($"tokenizer file '{path}' does not exist");
        return File.ReadAllText(path);
    }

    private static (string, string) SplitMerge(string line, string source)
    {
        int space = line.IndexOf(' ', 1);
        if (space <= 0 || space == line.Length - 1)
            throw new TokenizerFormatException($"{source}: merge '{line}' is not two symbols separated by a space");
        return (line[..space], line[(space + 1)..]);
    }

    private static (string Pattern, bool Nfc) PreTokenizer(JsonObject root, string path)
    {
        bool nfc = root["normalizer"]?["type"]?.GetValue<string>() switch
        {
            null => false,
            "NFC" => true,
            string other => throw new TokenizerFormatException($"{path}: normalizer '{other}' is not supported (only none or NFC)"),
        };
        var pre = root["pre_tokenizer"] ?? throw new TokenizerFormatException($"{path}: 'pre_tokenizer' is missing; byte-level BPE needs a ByteLevel pre-tokenizer");
        var steps = pre["type"]?.GetValue<string>() == "Sequence" ? [.. pre["pretokenizers"]!.AsArray().Select(n => n!)] : new List<JsonNode> { pre };
        string? pattern = null;
        bool byteLevel = false;
        foreach (var step in steps)
        {
            switch (step["type"]?.GetValue<string>())
            {
                case "Split":
                    pattern = step["pattern"]?["Regex"]?.GetValue<string>()
                              ?? throw new TokenizerFormatException($"{path}: Split pre-tokenizer without a Regex pattern is not supported");
                    break;
                case "ByteLevel":
                    byteLevel = true;
                    if (step["add_prefix_space"]?.GetValue<bool>() == true)
                        throw new TokenizerFormatException($"{path}: ByteLevel add_prefix_space=true is not supported");
                    if (step["use_regex"]?.GetValue<bool>() != false) pattern ??= Gpt2Pattern;
                    break;
                case string other:
                    throw new TokenizerFormatException($"{path}: pre-tokenizer '{other}' is not supported (ByteLevel, optionally after Split)");
            }
        }
        if (!byteLevel) throw new TokenizerFormatException($"{path}: no ByteLevel pre-tokenizer; only byte-level BPE is supported");
        return (pattern ?? Gpt2Pattern, nfc);
    }

    public int[] Encode(string text)
    {
        var ids = new List<int>(text.Length / 2 + 1);
        if (nfc && !text.IsNormalized(NormalizationForm.FormC)) text = text.Normalize(NormalizationForm.FormC);
        if (specialSplitter is null)
        {
            EncodeOrdinary(text, ids);
            return [.. ids];
        }
        int start = 0;
        foreach (Match m in specialSplitter.Matches(text))
        {
            if (m.Index > start) EncodeOrdinary(text[start..m.Index], ids);
            ids.Add(specials[m.Value]);
            start = m.Index + m.Length;
        }
        if (start < text.Length) EncodeOrdinary(text[start..], ids);
        return [.. ids];
    }

    private void EncodeOrdinary(string text, List<int> ids)
    {
        if (merges.Count == 0)
        {
            foreach (byte b in Encoding.UTF8.GetBytes(text)) ids.Add(ByteId(b));
            return;
        }
        // Split "Isolated": every match is a pre-token, and so is every stretch between matches.
        int at = 0;
        foreach (Match m in splitter.Matches(text))
        {
            if (m.Length == 0) continue;
            if (m.Index > at) AddWord(text[at..m.Index], ids);
            AddWord(m.Value, ids);
            at = m.Index + m.Length;
        }
        if (at < text.Length) AddWord(text[at..], ids);
    }

    private void AddWord(string word, List<int> ids)
    {
        if (!wordCache.TryGetValue(word, out var wordIds))
        {
            wordIds = EncodeWord(word);
            if (wordCache.Count < 100_000) wordCache[word] = wordIds;
        }
        ids.AddRange(wordIds);
    }

    private int ByteId(byte b) => byteIds[b] >= 0 ? byteIds[b]
        : throw new InvalidOperationException($"byte 0x{b:x2} has no token in this vocabulary (byte-level BPE needs all 256 bytes)");

    /// <summary>BPE on one pre-token: repeatedly merge the adjacent pair of lowest rank.</summary>
    private int[] EncodeWord(string word)
    {
        var symbols = Encoding.UTF8.GetBytes(word).Select(b => ByteToChar[b].ToString()).ToList();
        while (symbols.Count > 1)
        {
            int bestRank = int.MaxValue, bestAt = -1;
            for (int i = 0; i < symbols.Count - 1; i++)
            {
                if (mergeRanks.TryGetValue((symbols[i], symbols[i + 1]), out int rank) && rank < bestRank)
                {
                    bestRank = rank;
                    bestAt = i;
                }
            }
            if (bestAt < 0) break;
            var (left, right) = merges[bestRank];
            var merged = new List<string>(symbols.Count);
            for (int i = 0; i < symbols.Count; i++)
            {
                if (i < symbols.Count - 1 && symbols[i] == left && symbols[i + 1] == right)
                {
                    merged.Add(left + right);
                    i++;
                }
                else merged.Add(symbols[i]);
            }
            symbols = merged;
        }
        var result = new int[symbols.Count];
        for (int i = 0; i < symbols.Count; i++)
        {
            if (!vocab.TryGetValue(symbols[i], out result[i]))
                throw new InvalidOperationException($"BPE produced symbol '{symbols[i]}' that is not in the vocabulary; merges and vocab do not match");
        }
        return result;
    }

    public string Decode(IEnumerable<int> ids)
    {
        var bytes = new List<byte>();
        var text = new StringBuilder();
        foreach (int id in ids)
        {
            if (id < 0 || id >= idToToken.Length || idToToken[id] is null)
                throw new ArgumentOutOfRangeException(nameof(ids), $"token id {id} is not in the vocabulary (size {VocabSize})");
            string token = idToToken[id];
            if (specialIds.Contains(id))
            {
                Flush();
                text.Append(token);
                continue;
            }
            foreach (char c in token)
            {
                if (CharToByte.TryGetValue(c, out byte b)) bytes.Add(b);
                else throw new InvalidOperationException($"token {id} '{token}' holds character U+{(int)c:X4}, which is not a byte-level symbol");
            }
        }
        Flush();
        return text.ToString();

        void Flush()
        {
            if (bytes.Count == 0) return;
            text.Append(Encoding.UTF8.GetString([.. bytes]));
            bytes.Clear();
        }
    }

    /// <summary>The symbol string of a token (byte-level characters, e.g. "Ġthe").</summary>
    public string TokenText(int id) => idToToken[id];

    public void Save(string dir)
    {
        Directory.CreateDirectory(dir);
        var ordinary = vocab.Where(kv => !specials.ContainsKey(kv.Key)).OrderBy(kv => kv.Value).ToList();
        var vocabJson = new JsonObject();
        foreach (var (token, id) in vocab.OrderBy(kv => kv.Value)) vocabJson[token] = id;
        File.WriteAllText(Path.Combine(dir, "vocab.json"), vocabJson.ToJsonString());
        File.WriteAllText(Path.Combine(dir, "merges.txt"), "#version: 0.2\n" + string.Concat(merges.Select(m => $"{m.Left} {m.Right}\n")));
        if (originalTokenizerJson is not null)
        {
            var original = JsonNode.Parse(originalTokenizerJson)!.AsObject();
            if (AddedThinkTokens.Count > 0)
            {
                var added = original["added_tokens"] as JsonArray ?? [];
                original["added_tokens"] = added;
                foreach (var token in AddedThinkTokens)
                    added.Add(new JsonObject
                    {
                        ["id"] = vocab[token], ["content"] = token, ["single_word"] = false, ["lstrip"] = false,
                        ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
                    });
                File.WriteAllText(Path.Combine(dir, "tokenizer.json"), original.ToJsonString());
            }
            else File.WriteAllText(Path.Combine(dir, "tokenizer.json"), originalTokenizerJson);
            return;
        }
        var modelVocab = new JsonObject();
        foreach (var (token, id) in ordinary) modelVocab[token] = id;
        var byteLevel = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true };
        var root = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = new JsonArray([.. specials.OrderBy(kv => kv.Value).Select(kv => (JsonNode)new JsonObject
            {
                ["id"] = kv.Value, ["content"] = kv.Key, ["single_word"] = false, ["lstrip"] = false,
                ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
            })]),
            ["normalizer"] = null,
            ["pre_tokenizer"] = byteLevel.DeepClone(),
            ["post_processor"] = byteLevel.DeepClone(),
            ["decoder"] = byteLevel.DeepClone(),
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = null,
                ["end_of_word_suffix"] = null, ["fuse_unk"] = false, ["byte_fallback"] = false, ["ignore_merges"] = false,
                ["vocab"] = modelVocab,
                ["merges"] = new JsonArray([.. merges.Select(m => (JsonNode)new JsonArray(m.Left, m.Right))]),
            },
        };
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>GPT-2's reversible map from bytes to printable characters.</summary>
    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        var direct = new bool[256];
        foreach (var (lo, hi) in new[] { ('!', '~'), ('¡', '¬'), ('®', 'ÿ') })
            for (int c = lo; c <= hi; c++) { map[c] = (char)c; direct[c] = true; }
        int n = 0;
        for (int b = 0; b < 256; b++)
            if (!direct[b]) map[b] = (char)(256 + n++);
        return map;
    }
}
