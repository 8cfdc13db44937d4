using Rmt.Contracts;
using Rmt.Training.PostTraining;

namespace Rmt.Training.Tests.PostTraining;

public sealed class MathDataTests
{
    [Fact]
    public void Loader_reads_the_real_gsm8k_splits()
    {
        var train = Gsm8kLoader.Load(Path.Combine(SharedData.Root, "gsm8k", "train.jsonl"));
        Assert.Equal(7473, train.Count);
        Assert.Equal("72", train[0].FinalAnswer);
        Assert.DoesNotContain("<<", train[0].Solution, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"question\": \"q\"", "not valid JSON")]
    [InlineData("[1, 2]", "expected a JSON object")]
    [InlineData("{\"answer\": \"#### 3\"}", "missing field 'question'")]
    [InlineData("{\"question\": \"q\", \"answer\": 3}", "field 'answer' is Number")]
    [InlineData("{\"question\": \"q\", \"answer\": \"three\"}", "no '#### ' marker")]
    [InlineData("{\"question\": \"q\", \"answer\": \"x ####  \"}", "nothing after '####'")]
    [InlineData("{\"question\": \"q\", \"answer\": \"#### many\"}", "final answer 'many' is not a number")]
    public void Loader_names_file_and_line_of_a_malformed_line(string badLine, string problem)
    {
        var lines = new[] { "{\"question\": \"ok\", \"answer\": \"1 + 1 = 2\\n#### 2\"}", "", badLine };
        var error = Assert.Throws<MathDataException>(() => Gsm8kLoader.Parse(lines, "data/train.jsonl"));
        Assert.StartsWith("data/train.jsonl:3: ", error.Message, StringComparison.Ordinal);
        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Loader_rejects_an_empty_file_and_a_missing_one()
    {
        Assert.Contains("no problems", Assert.Throws<MathDataException>(() => Gsm8kLoader.Parse(["", " "], "empty.jsonl")).Message, StringComparison.Ordinal);
        Assert.Contains("file not found", Assert.Throws<MathDataException>(() => Gsm8kLoader.Load("/nonexistent/x.jsonl")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Generated_problems_round_trip_through_the_loader()
    {
        var generator = new ArithmeticProblemGenerator(new ArithmeticDifficulty(Operations: 3, Digits: 2, Operators: "+-*"));
        var problems = generator.Generate(50, seed: 7);
        var path = Path.Combine(Path.GetTempPath(), $"rmt-math-{Guid.NewGuid():N}.jsonl");
        try
        {
            Gsm8kLoader.Save(path, problems);
            Assert.Equal(problems, Gsm8kLoader.Load(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(1, 1, "+", ArithmeticStyle.Words)]
    [InlineData(2, 1, "+-", ArithmeticStyle.Bare)]
    [InlineData(4, 3, "+-*", ArithmeticStyle.Words)]
    [InlineData(5, 2, "+-*", ArithmeticStyle.Bare)]
    public void Generated_solutions_are_right_and_have_the_asked_difficulty(int operations, int digits, string operators, ArithmeticStyle style)
    {
        var generator = new ArithmeticProblemGenerator(new ArithmeticDifficulty(operations, digits, operators, style));
        foreach (var problem in generator.Generate(200, seed: 11))
        {
            var steps = problem.Solution.Split('\n');
            Assert.Equal(operations, steps.Length);
            var final = MathNumber.Parse(problem.FinalAnswer);
            Assert.True(final.Numerator.Sign >= 0, problem.Answer);
            foreach (var step in steps)
            {
                // "a op b = c": recompute c.
                var parts = step.Split(' ');
                var (a, op, b, c) = (long.Parse(parts[0]), parts[1], long.Parse(parts[2]), long.Parse(parts[4]));
                Assert.Contains(op, operators, StringComparison.Ordinal);
                Assert.Equal(c, op switch { "+" => a + b, "-" => a - b, _ => a * b });
                if (op != "*") Assert.True(b.ToString().Length <= digits, step);
            }
            if (style == ArithmeticStyle.Bare)
                Assert.Equal(final, EvaluateBare(problem.Question));
        }
    }

    [Theory]
    [InlineData(34, 58, "4+8=12 c1 3+5+1=9 =92")]
    [InlineData(52, 51, "2+1=3 c0 5+5+0=10 =103")]
    [InlineData(7, 5, "7+5=12 =12")]
    [InlineData(105, 9, "5+9=14 c1 0+0+1=1 c0 1+0+0=1 =114")]
    public void Column_traces_add_digit_by_digit_with_carries(int a, int b, string trace) =>
        Assert.Equal(trace, ArithmeticProblemGenerator.AdditionColumns(a, b));

    [Fact]
    public void Column_traced_problems_keep_their_final_answer()
    {
        var generator = new ArithmeticProblemGenerator(new ArithmeticDifficulty(2, 2, "+-", ArithmeticStyle.Bare, ColumnTrace: true));
        foreach (var problem in generator.Generate(50, seed: 4))
        {
            var steps = problem.Solution.Split('\n');
            Assert.Equal(2, steps.Length);
            Assert.EndsWith($"={problem.FinalAnswer}", steps[^1].Replace(" ", "", StringComparison.Ordinal), StringComparison.Ordinal);
            Assert.Equal(1.0, new MathReward(global::Rmt.Training.Tokenizers.ByteLevelBpeTokenizer.CreateBytes(), 0.1).Breakdown(MathPromptFormat.Completion(problem), problem).Total);
        }
    }

    [Fact]
    public void The_generator_is_seeded()
    {
        var generator = new ArithmeticProblemGenerator(new ArithmeticDifficulty(2, 2));
        Assert.Equal(generator.Generate(20, 3), generator.Generate(20, 3));
        Assert.NotEqual(generator.Generate(20, 3), generator.Generate(20, 4));
    }

    [Fact]
    public void Splits_share_no_question_and_too_small_a_space_is_refused()
    {
        var generator = new ArithmeticProblemGenerator(new ArithmeticDifficulty(1, 1, "+", ArithmeticStyle.Bare));
        var (train, test) = generator.GenerateSplit(60, 20, seed: 5);
        Assert.Empty(train.Select(p => p.Question).Intersect(test.Select(p => p.Question)));
        Assert.Equal(20, test.Select(p => p.Question).Distinct().Count());
        // 1-digit "a + b" has 100 distinct questions: 100 held-out leaves nothing for training.
        Assert.Throws<ContractException>(() => generator.GenerateSplit(10, 101, seed: 5));
    }

    [Fact]
    public void Difficulty_is_validated_with_the_field_name()
    {
        var error = Assert.Throws<ContractException>(() => new ArithmeticProblemGenerator(new ArithmeticDifficulty(Operators: "+/")));
        Assert.Contains("arithmetic.operators", error.Message, StringComparison.Ordinal);
        Assert.Contains("arithmetic.digits", Assert.Throws<ContractException>(() => new ArithmeticDifficulty(Digits: 0).Validate()).Message, StringComparison.Ordinal);
    }

    // Evaluates "((3 + 4) * 2 - 1) = ?" with normal precedence, by a tiny recursive descent.
    private static MathNumber EvaluateBare(string question)
    {
        var tokens = question.Replace("= ?", "", StringComparison.Ordinal).Replace("(", " ( ", StringComparison.Ordinal).Replace(")", " ) ", StringComparison.Ordinal)
            .Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var position = 0;
        long Sum()
        {
            var value = Product();
            while (position < tokens.Length && tokens[position] is "+" or "-")
                value = tokens[position++] == "+" ? value + Product() : value - Product();
            return value;
        }
        long Product()
        {
            var value = Atom();
            while (position < tokens.Length && tokens[position] == "*") { position++; value *= Atom(); }
            return value;
        }
        long Atom()
        {
            if (tokens[position] != "(") return long.Parse(tokens[position++]);
            position++;
            var value = Sum();
            position++;
            return value;
        }
        return MathNumber.Integer(Sum());
    }
}
