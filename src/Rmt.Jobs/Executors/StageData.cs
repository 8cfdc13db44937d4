using Microsoft.Extensions.Logging;
using Rmt.Contracts;

namespace Rmt.Jobs.Executors;

/// <summary>Reading the local copies of datasets the runner downloaded.</summary>
public static class StageData
{
    /// <summary>A text corpus: the file, or every file of the folder in name order joined by newlines.</summary>
    public static string ReadText(string? path, string what)
    {
        if (path is null) throw new ContractException($"{what} is missing; set 'dataset' in the job");
        if (File.Exists(path)) return File.ReadAllText(path);
        if (Directory.Exists(path))
            return string.Join('\n', Directory.GetFiles(path, "*", SearchOption.AllDirectories)
                .Order(StringComparer.Ordinal).Select(File.ReadAllText));
        throw new ContractException($"{what} '{path}' does not exist");
    }

    /// <summary>The single file of a dataset (a folder with exactly one file counts too).</summary>
    public static string SingleFile(string? path, string what)
    {
        if (path is null) throw new ContractException($"{what} is missing; set it in the job");
        if (File.Exists(path)) return path;
        if (Directory.Exists(path))
        {
            var files = Directory.GetFiles(path, "*", SearchOption.AllDirectories);
            if (files.Length == 1) return files[0];
            throw new ContractException($"{what} '{path}' is a folder of {files.Length} files; give one file");
        }
        throw new ContractException($"{what} '{path}' does not exist");
    }

    internal static void LogResume(this ILogger logger, long checkpointStep, long trainerStep) =>
        logger.LogInformation("resumed trainer state from checkpoint step {Checkpoint}: optimizer step {Step}", checkpointStep, trainerStep);
}
