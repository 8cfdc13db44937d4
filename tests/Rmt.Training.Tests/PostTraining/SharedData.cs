namespace Rmt.Training.Tests.PostTraining;

/// <summary>Finds ../shared/data from the test's working directory (a worktree's bin folder).</summary>
internal static class SharedData
{
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "data");
            if (Directory.Exists(Path.Combine(candidate, "gsm8k"))) return candidate;
        }
        throw new DirectoryNotFoundException($"no shared/data/gsm8k above {AppContext.BaseDirectory}; the tests read ../shared/data next to the repository");
    }
}
