using System.Diagnostics;

namespace Rmt.Cloud.Azurite;

/// <summary>SIGTERM for child processes (Azurite, trainer jobs): .NET's Process can only kill (SIGKILL),
/// which gives the child no chance to save its state. Uses the system's `kill`, so that no project
/// needs unsafe code for one call.</summary>
public static class PosixSignal
{
    /// <summary>Sends SIGTERM; false on Windows, when `kill` is missing, or when the process is gone.</summary>
    public static bool Terminate(int processId)
    {
        if (OperatingSystem.IsWindows()) return false;
        var info = new ProcessStartInfo("kill") { UseShellExecute = false, RedirectStandardError = true };
        info.ArgumentList.Add("-TERM");
        info.ArgumentList.Add(processId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        try
        {
            using var kill = Process.Start(info);
            if (kill is null) return false;
            kill.WaitForExit(5000);
            return kill.HasExited && kill.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
