using System.Diagnostics;
using System.Globalization;
using Rmt.AzdHooks;

// azd hooks of azure.yaml (docs/deploy.md, "GPU region and quota"). azd runs them with the
// environment's values (AZURE_LOCATION, RMT_GPU_PROFILE, outputs of the last provision) as
// environment variables.
//   preprovision   the region offers the GPU profile (fails provisioning if not); pins the budget's start month
//   postprovision  the new environment's GPU quota (prints the exact request to make; never fails)
// RMT_SKIP_GPU_CHECKS=true skips both (for example without the Azure CLI, at your own risk).

var hook = args.Length == 1 ? args[0] : "";
if (hook is not ("preprovision" or "postprovision"))
{
    Console.Error.WriteLine("usage: dotnet run --project infra/hooks/Rmt.AzdHooks -- preprovision|postprovision");
    return 2;
}
if (string.Equals(Environment.GetEnvironmentVariable("RMT_SKIP_GPU_CHECKS"), "true", StringComparison.OrdinalIgnoreCase))
{
    Console.WriteLine($"{hook}: RMT_SKIP_GPU_CHECKS=true, GPU checks skipped");
    return 0;
}

try
{
    var profile = Optional("RMT_GPU_PROFILE") ?? GpuChecks.DefaultProfile;
    CheckResult result;
    if (hook == "preprovision")
    {
        var location = Required("AZURE_LOCATION", "azd env set AZURE_LOCATION <region>");
        result = GpuChecks.Region(Az("containerapp", "env", "workload-profile", "list-supported", "--location", location, "--output", "json"), location, profile);
        if (result.Ok && Optional("RMT_BUDGET_START_DATE") is null)
        {
            // The budget's start date must stay the same on later provisions: pin this month.
            var month = DateTime.UtcNow.ToString("yyyy-MM-01", CultureInfo.InvariantCulture);
            Run("azd", "env", "set", "RMT_BUDGET_START_DATE", month);
            Console.WriteLine($"preprovision: budget start pinned to {month} (RMT_BUDGET_START_DATE)");
        }
    }
    else
    {
        var group = Required("AZURE_RESOURCE_GROUP", "run azd provision first");
        var environment = Required("AZURE_CONTAINER_APPS_ENVIRONMENT_NAME", "run azd provision first");
        var gpus = int.TryParse(Optional("RMT_GPU_MAX_EXECUTIONS"), CultureInfo.InvariantCulture, out var n) ? n : 1;
        result = GpuChecks.Quota(Az("containerapp", "env", "list-usages", "--name", environment, "--resource-group", group, "--output", "json"),
            profile, environment, group, gpus);
    }
    (result.Ok ? Console.Out : Console.Error).WriteLine($"{hook}: {result.Message}");
    return result.Ok || hook == "postprovision" ? 0 : 1;
}
catch (InvalidOperationException e)
{
    Console.Error.WriteLine($"{hook}: {e.Message}");
    return 1;
}

static string? Optional(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : null;

static string Required(string name, string fix) =>
    Optional(name) ?? throw new InvalidOperationException($"{name} is not set; {fix}");

static string Az(params string[] arguments) => Run("az", arguments);

static string Run(string tool, params string[] arguments)
{
    // On Windows az and azd are .cmd/.exe shims found through PATH by the shell.
    var start = OperatingSystem.IsWindows()
        ? new ProcessStartInfo("cmd.exe") { ArgumentList = { "/c", tool } }
        : new ProcessStartInfo(tool);
    foreach (var argument in arguments) start.ArgumentList.Add(argument);
    start.RedirectStandardOutput = true;
    start.RedirectStandardError = true;
    Process process;
    try
    {
        process = Process.Start(start) ?? throw new InvalidOperationException($"could not start '{tool}'");
    }
    catch (System.ComponentModel.Win32Exception e)
    {
        throw new InvalidOperationException(
            $"'{tool}' is not installed or not on PATH ({e.Message}); install it (docs/deploy.md, 'Before you deploy') or set RMT_SKIP_GPU_CHECKS=true", e);
    }
    using (process)
    {
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException(
                $"'{tool} {string.Join(' ', arguments)}' failed (exit {process.ExitCode}): {stderr.Result.Trim()}; " +
                (tool == "az" ? "sign in with 'az login' to the tenant azd uses, and install the extension: az extension add --name containerapp --upgrade" : ""));
        return stdout.Result;
    }
}
