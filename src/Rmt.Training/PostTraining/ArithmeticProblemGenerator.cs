using System.Globalization;
using Rmt.Contracts;

namespace Rmt.Training.PostTraining;

/// <summary>How hard the generated problems are.</summary>
public sealed record ArithmeticDifficulty(
    int Operations = 1,              // operations per problem (1 = "a + b")
    int Digits = 1,                  // digits of each +/- operand (1 = 0..9)
    string Operators = "+-",         // any of + - * ; multipliers are single-digit (2..9) to keep results short
    ArithmeticStyle Style = ArithmeticStyle.Words,
    bool ColumnTrace = false)        // additions worked column by column with carries ("4+8=12 c1 3+5+1=9 =92"), the trace shape tiny models can follow
{
    public void Validate()
    {
        Validation.Range(Operations, 1, 8, "arithmetic.operations");
        Validation.Range(Digits, 1, 6, "arithmetic.digits");
        if (string.IsNullOrEmpty(Operators) || Operators.Any(c => c is not ('+' or '-' or '*')))
            throw new ContractException($"arithmetic.operators is '{Operators}'; use a non-empty subset of \"+-*\"");
    }
}

/// <summary>Words: a short story ("Ann has 3 apples. Ann gets 4 more. ..."). Bare: "3 + 4 - 2 = ?".</summary>
public enum ArithmeticStyle { Words, Bare }

/// <summary>Makes GSM8K-format arithmetic word problems for tiny models: seeded, with a worked
/// solution (one "a op b = c" line per step) then <c>#### c</c>. Steps apply left to right (the word
/// story is sequential; the bare form adds brackets where precedence would differ). Results never go
/// negative: a subtraction larger than the running total is redrawn smaller, or becomes an addition
/// when the total is 0.</summary>
public sealed class ArithmeticProblemGenerator
{
    private static readonly string[] Names = ["Ann", "Ben", "Cal", "Dee", "Eve", "Fay", "Gus", "Ida", "Jon", "Kim"];
    private static readonly string[] Items = ["apples", "pens", "cards", "eggs", "books", "coins", "shells", "stamps"];

    private readonly ArithmeticDifficulty _difficulty;

    public ArithmeticProblemGenerator(ArithmeticDifficulty difficulty)
    {
        difficulty.Validate();
        _difficulty = difficulty;
    }

    /// <summary>count problems from one seed; the same seed gives the same problems.</summary>
    public IReadOnlyList<MathProblem> Generate(int count, int seed)
    {
        Validation.Range(count, 0, 10_000_000, "count");
        var random = new Random(seed);
        var problems = new List<MathProblem>(count);
        for (var i = 0; i < count; i++) problems.Add(Next(random));
        return problems;
    }

    /// <summary>A train and a held-out split with no question in both.</summary>
    public (IReadOnlyList<MathProblem> Train, IReadOnlyList<MathProblem> Test) GenerateSplit(int trainCount, int testCount, int seed)
    {
        var random = new Random(seed);
        var test = new List<MathProblem>(testCount);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var tries = 0; test.Count < testCount && tries < testCount * 50; tries++)
        {
            var p = Next(random);
            if (seen.Add(p.Question)) test.Add(p);
        }
        var train = new List<MathProblem>(trainCount);
        for (var tries = 0; train.Count < trainCount && tries < trainCount * 50 + 1000; tries++)
        {
            var p = Next(random);
            if (!seen.Contains(p.Question)) train.Add(p);
        }
        if (test.Count < testCount || train.Count < trainCount)
            throw new ContractException(
                $"arithmetic difficulty {_difficulty} has too few distinct problems for {trainCount} train + {testCount} held-out; raise operations or digits, or ask for fewer");
        return (train, test);
    }

    private MathProblem Next(Random random)
    {
        var d = _difficulty;
        var total = Operand(random);
        var steps = new List<(char Op, int Value, int Before, int After)>();
        for (var i = 0; i < d.Operations; i++)
        {
            var op = d.Operators[random.Next(d.Operators.Length)];
            int value;
            if (op == '*') value = random.Next(2, 10);
            else value = Operand(random);
            if (op == '-' && value > total)
            {
                if (total == 0) op = '+';
                else value = random.Next(0, total + 1);
            }
            var after = op switch { '+' => total + value, '-' => total - value, _ => total * value };
            steps.Add((op, value, total, after));
            total = after;
        }
        var solution = string.Join("\n", steps.Select(s => d.ColumnTrace && s.Op == '+'
            ? AdditionColumns(s.Before, s.Value)
            : $"{Str(s.Before)} {s.Op} {Str(s.Value)} = {Str(s.After)}"));
        var answer = $"{solution}\n#### {Str(total)}";
        var question = d.Style == ArithmeticStyle.Words ? Story(random, steps) : Expression(steps);
        return new MathProblem(question, answer);
    }

    /// <summary>Column addition, least significant digit first: "4+8=12 c1 3+5+1=9 =92" for 34 + 58
    /// (the first column has no carry in, the last writes no carry out), then "=" and the sum.</summary>
    public static string AdditionColumns(int a, int b)
    {
        var total = a + b;
        var columns = System.Math.Max(Str(a).Length, Str(b).Length);
        var parts = new List<string>();
        var carry = 0;
        for (var i = 0; i < columns; i++, a /= 10, b /= 10)
        {
            int da = a % 10, db = b % 10, sum = da + db + carry;
            var carryIn = i == 0 ? "" : $"+{Str(carry)}";
            var carryOut = i == columns - 1 ? "" : $" c{Str(sum / 10)}";
            parts.Add($"{Str(da)}+{Str(db)}{carryIn}={Str(sum)}{carryOut}");
            carry = sum / 10;
        }
        return $"{string.Join(" ", parts)} ={Str(total)}";
    }

    private int Operand(Random random)
    {
        var d = _difficulty.Digits;
        var low = d == 1 ? 0 : (int)System.Math.Pow(10, d - 1);
        var high = (int)System.Math.Pow(10, d);
        return random.Next(low, high);
    }

    private static string Story(Random random, List<(char Op, int Value, int Before, int After)> steps)
    {
        var name = Names[random.Next(Names.Length)];
        var item = Items[random.Next(Items.Length)];
        var parts = new List<string> { $"{name} has {Str(steps[0].Before)} {item}." };
        foreach (var (op, value, _, _) in steps)
        {
            parts.Add(op switch
            {
                '+' => $"{name} gets {Str(value)} more.",
                '-' => $"{name} gives away {Str(value)}.",
                _ => $"Then {name} has {Str(value)} times as many.",
            });
        }
        parts.Add($"How many {item} does {name} have now?");
        return string.Join(" ", parts);
    }

    private static string Expression(List<(char Op, int Value, int Before, int After)> steps)
    {
        var text = Str(steps[0].Before);
        var hasAdditive = false;
        foreach (var (op, value, _, _) in steps)
        {
            if (op == '*' && hasAdditive) text = $"({text})";
            text = $"{text} {op} {Str(value)}";
            hasAdditive |= op != '*';
        }
        return $"{text} = ?";
    }

    private static string Str(int value) => value.ToString(CultureInfo.InvariantCulture);
}
