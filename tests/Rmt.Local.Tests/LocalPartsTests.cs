using System.Text.Json;
using Rmt.Cloud.Azurite;
using Rmt.Contracts;
using Rmt.Local.Demo;

namespace Rmt.Local.Tests;

/// <summary>The local host's small parts: command line, demo data and request.</summary>
public sealed class LocalPartsTests
{
    [Fact]
    public void No_arguments_run_the_demo_and_serve_alone_does_not()
    {
        Assert.Equal((true, false), (LocalCommand.Parse([]).Demo, LocalCommand.Parse([]).Serve));
        Assert.Equal((false, true), (LocalCommand.Parse(["--serve"]).Demo, LocalCommand.Parse(["--serve"]).Serve));
        Assert.Equal((true, true), (LocalCommand.Parse(["--demo", "--serve"]).Demo, LocalCommand.Parse(["--demo", "--serve"]).Serve));
        var full = LocalCommand.Parse(["--port", "8080", "--data", "/tmp/x", "--size", "tiny", "--json-logs", "--trace"]);
        Assert.Equal((8080, "/tmp/x", DemoSize.Tiny, true, true), (full.Port, full.DataDir, full.Size, full.JsonLogs, full.Trace));
    }

    [Theory]
    [InlineData(new[] { "--port", "http" }, "--port 'http' is not a port number")]
    [InlineData(new[] { "--port" }, "Required argument missing for option: '--port'")]
    [InlineData(new[] { "--size", "huge" }, "--size 'huge' is not known; use demo or tiny")]
    [InlineData(new[] { "--fast" }, "Unrecognized command or argument '--fast'")]
    public void Bad_arguments_say_what_is_wrong(string[] args, string message)
    {
        var error = Assert.Throws<ArgumentException>(() => LocalCommand.Parse(args));
        Assert.StartsWith(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Demo_data_is_the_same_for_the_same_seed_its_traces_compute_the_next_digit_and_its_problems_are_gsm8k_with_correct_answers()
    {
        using var a = new TempFolder();
        using var b = new TempFolder();
        var size = new DemoDataSize(PretrainDocuments: 20, Traces: 60, CorpusDocuments: 30, EvalDocuments: 10, TrainProblems: 50, TestProblems: 10,
            ContextChars: 40, HintMin: 20, HintMax: 96);
        var first = DemoData.Write(a.Path, size, seed: 7);
        var second = DemoData.Write(b.Path, size, seed: 7);
        foreach (var (x, y) in new[] { (first.Pretrain, second.Pretrain), (first.Corpus, second.Corpus), (first.MathTrain, second.MathTrain) })
            Assert.Equal(File.ReadAllText(x), File.ReadAllText(y));
        Assert.Equal(30, File.ReadAllLines(first.Corpus).Length);
        Assert.DoesNotContain("<think>", File.ReadAllText(first.Corpus), StringComparison.Ordinal); // mid-training text is plain
        // One template: every sentence reads "a plus b plus c is d.", so only numbers are uncertain.
        Assert.All(File.ReadAllLines(first.Corpus), line => Assert.Matches(@"^([0-9]+ plus [0-9]+ plus [0-9]+ is [0-9]+\. ?)+<\|endoftext\|>$", line));

        // Worked examples at sum digits: "{context}[ [budget B]]<think>{steps ... left L}</think>{digit}<|endoftext|>", the digit = L's
        // first (two thirds of them); the other third restate the context's end.
        var examples = File.ReadAllLines(first.Pretrain).Where(l => l.Contains("<think>", StringComparison.Ordinal)).ToList();
        Assert.Equal(60, examples.Count);
        Assert.InRange(examples.Count(l => l.Contains(" [budget ", StringComparison.Ordinal)), 15, 45);
        var sums = examples.Where(l => l.Contains(" left ", StringComparison.Ordinal)).ToList();
        Assert.Equal(40, sums.Count);
        foreach (var line in sums)
        {
            var trace = line[(line.IndexOf("<think>", StringComparison.Ordinal) + 7)..line.IndexOf("</think>", StringComparison.Ordinal)];
            var digit = line[line.IndexOf("</think>", StringComparison.Ordinal) + 8];
            var left = trace[(trace.LastIndexOf("left ", StringComparison.Ordinal) + 5)..];
            Assert.Equal(left[0], digit);
            Assert.EndsWith("<|endoftext|>", line, StringComparison.Ordinal);
        }

        var train = File.ReadAllLines(first.MathTrain);
        var test = File.ReadAllLines(first.MathTest);
        Assert.Equal((50, 10), (train.Length, test.Length));
        string Question(string line) => JsonDocument.Parse(line).RootElement.GetProperty("question").GetString()!;
        Assert.Empty(test.Select(Question).Intersect(train.Select(Question)));
        foreach (var line in train.Concat(test))
        {
            using var json = JsonDocument.Parse(line);
            var question = json.RootElement.GetProperty("question").GetString()!;
            var answer = json.RootElement.GetProperty("answer").GetString()!;
            var final = int.Parse(answer[(answer.LastIndexOf("#### ", StringComparison.Ordinal) + 5)..]);
            var operands = System.Text.RegularExpressions.Regex.Matches(question, "[0-9]+").Select(m => int.Parse(m.Value)).ToList();
            Assert.Equal(DemoData.Operands, operands.Count);
            Assert.Equal(operands.Sum(), final);
            Assert.Contains($"={final}", answer, StringComparison.Ordinal); // the column steps end with the total
        }
    }

    [Theory]
    [InlineData(DemoSize.Demo)]
    [InlineData(DemoSize.Tiny)]
    public void Demo_requests_are_valid_pipeline_requests(DemoSize size)
    {
        var request = DemoRequest.Create("demo-1", size);
        var parsed = RmtJson.ParseRequest(RmtJson.Serialize(request), "demo request");
        Assert.Equal("demo-1", parsed.RunId);
        Assert.Null(parsed.BaseCheckpoint); // pretrains the tiny model from scratch
        Assert.Equal(DemoData.MathTest, parsed.Datasets.PostTrainEval);
        Assert.Equal(DemoData.CorpusEval, parsed.Datasets.MidTrainEval);
        Assert.All(new[] { parsed.Pretrain!.Schedule, parsed.MidTrain!.Schedule, parsed.PostTrain!.Schedule }, s => Assert.Equal("cpu", s.Device));
    }

    [Fact]
    public async Task Azurite_with_a_data_folder_keeps_blobs_across_a_restart()
    {
        using var folder = new TempFolder();
        var persistence = new AzuritePersistence(folder.File("azurite"));
        await using (var first = await AzuriteServer.StartAsync(persistence))
        {
            var store = Rmt.Cloud.CloudClients.Create(Rmt.Cloud.CloudOptions.ForConnectionString(first.ConnectionString)).Artifacts;
            await store.WriteTextAsync("runs/kept/request.json", "{\"kept\":true}");
        }
        await using var second = await AzuriteServer.StartAsync(persistence);
        var again = Rmt.Cloud.CloudClients.Create(Rmt.Cloud.CloudOptions.ForConnectionString(second.ConnectionString)).Artifacts;
        Assert.Equal("{\"kept\":true}", await again.ReadTextAsync("runs/kept/request.json"));
    }

    [Theory]
    [InlineData("127.0.0.1:7071", null, "POST", "application/json", 0)]
    [InlineData("localhost:7071", "http://localhost:7071", "POST", "application/json; charset=utf-8", 0)]
    [InlineData("127.0.0.1:7071", null, "POST", null, 0)]                         // curl -X POST .../cancel: no body
    [InlineData("127.0.0.1:7071", "https://evil.example", "GET", null, 403)]
    [InlineData("127.0.0.1:7071", "http://127.0.0.1:9999", "POST", "application/json", 403)]
    [InlineData("rebound.example:7071", null, "GET", null, 403)]                   // DNS rebinding
    [InlineData("127.0.0.1:7071", null, "POST", "text/plain", 415)]
    [InlineData("127.0.0.1:7071", null, "POST", "application/x-www-form-urlencoded", 415)]
    public void The_local_API_refuses_cross_site_requests(string host, string? origin, string method, string? contentType, int refusedWith)
    {
        var http = new Microsoft.AspNetCore.Http.DefaultHttpContext();
        http.Request.Scheme = "http";
        http.Request.Host = new Microsoft.AspNetCore.Http.HostString(host);
        http.Request.Method = method;
        if (origin is not null) http.Request.Headers.Origin = origin;
        if (contentType is not null)
        {
            http.Request.ContentType = contentType;
            http.Request.ContentLength = 10;
        }

        var problem = Rmt.Local.Api.CrossSiteGuard.Check(http.Request);

        Assert.Equal(refusedWith, problem?.StatusCode ?? 0);
    }
}
