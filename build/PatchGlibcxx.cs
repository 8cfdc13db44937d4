// MSBuild task (compiled by RoslynCodeTaskFactory against netstandard2.0, see TorchSharpNative.targets).
//
// Why: TorchSharp 0.107's libLibTorchSharp.so was built with GCC 13 and asks libstdc++ for version
// GLIBCXX_3.4.32. Debian 12 and Ubuntu 22.04 ship libstdc++ up to GLIBCXX_3.4.30, so the library
// fails to load ("version `GLIBCXX_3.4.32' not found"). The only symbol bound to that version is
// _ZSt21ios_base_library_initv, which GCC 13 emits as a bare reference that nothing calls.
//
// What: in the COPY of the library in a build or publish output (never the NuGet cache), mark that
// one version-needed entry weak (VER_FLG_WEAK in .gnu.version_r). The dynamic loader then accepts a
// libstdc++ without it. Guarded: Linux only, only when the machine's libstdc++ lacks the version,
// only that exact entry of libstdc++.so.6, and only in a well-formed little-endian ELF64 file.
// Newer systems (Ubuntu 24.04, Debian 13, the CUDA images) are left untouched.
using System;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public sealed class PatchGlibcxx : Task
{
    private const string Version = "GLIBCXX_3.4.32";
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlgWeak = 0x2;

    [Required] public string Directory { get; set; } = "";

    public override bool Execute()
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux) || !System.IO.Directory.Exists(Directory)) return true;
        if (SystemLibstdcxxHas(Version))
        {
            Log.LogMessage(MessageImportance.Low, $"libstdc++ provides {Version}; TorchSharp's native library needs no patch.");
            return true;
        }
        foreach (var path in System.IO.Directory.EnumerateFiles(Directory, "libLibTorchSharp.so", SearchOption.AllDirectories))
        {
            try
            {
                var result = Patch(path);
                Log.LogMessage(MessageImportance.Normal, $"{path}: {result}");
            }
            catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                Log.LogWarning($"could not patch {path} for {Version} ({e.Message}); TorchSharp may fail to load on this machine. See DESIGN.md section 5.");
            }
        }
        return !Log.HasLoggedErrors;
    }

    private static bool SystemLibstdcxxHas(string version)
    {
        string[] candidates =
        {
            "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib/aarch64-linux-gnu/libstdc++.so.6",
            "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
        };
        foreach (var candidate in candidates)
        {
            if (!File.Exists(candidate)) continue;
            var text = Encoding.ASCII.GetString(File.ReadAllBytes(candidate));
            return text.Contains(version + "\0");
        }
        return false; // no libstdc++ found where expected: patching is harmless, a weak need is still met when present
    }

    /// <summary>Sets VER_FLG_WEAK on the GLIBCXX_3.4.32 entry of libstdc++.so.6 in .gnu.version_r.</summary>
    public static string Patch(string path)
    {
        var elf = File.ReadAllBytes(path);
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (elf[4] != 2 || elf[5] != 1)
            throw new InvalidDataException("not a little-endian ELF64 file");

        var sectionTable = (long)BitConverter.ToUInt64(elf, 0x28);
        int entrySize = BitConverter.ToUInt16(elf, 0x3A), count = BitConverter.ToUInt16(elf, 0x3C);
        for (var i = 0; i < count; i++)
        {
            var header = checked((int)(sectionTable + (long)i * entrySize));
            if (BitConverter.ToUInt32(elf, header + 4) != ShtGnuVerneed) continue;

            var verneed = checked((int)BitConverter.ToUInt64(elf, header + 0x18));
            var stringsHeader = checked((int)(sectionTable + (long)BitConverter.ToUInt32(elf, header + 0x28) * entrySize));
            var strings = checked((int)BitConverter.ToUInt64(elf, stringsHeader + 0x18));

            for (var need = verneed; ; )
            {
                int auxCount = BitConverter.ToUInt16(elf, need + 2);
                var file = ReadString(elf, strings + (int)BitConverter.ToUInt32(elf, need + 4));
                var aux = need + (int)BitConverter.ToUInt32(elf, need + 8);
                for (var a = 0; a < auxCount; a++)
                {
                    var name = ReadString(elf, strings + (int)BitConverter.ToUInt32(elf, aux + 8));
                    if (file == "libstdc++.so.6" && name == Version)
                    {
                        var flags = BitConverter.ToUInt16(elf, aux + 4);
                        if ((flags & VerFlgWeak) != 0) return $"{Version} already weak";
                        BitConverter.GetBytes((ushort)(flags | VerFlgWeak)).CopyTo(elf, aux + 4);
                        var temp = path + ".patching";
                        File.WriteAllBytes(temp, elf);
                        File.Copy(temp, path, overwrite: true);
                        File.Delete(temp);
                        return $"marked {Version} weak so it loads with this machine's libstdc++";
                    }
                    aux += (int)BitConverter.ToUInt32(elf, aux + 12);
                }
                var next = BitConverter.ToUInt32(elf, need + 12);
                if (next == 0) break;
                need += (int)next;
            }
            return $"no {Version} requirement (nothing to do)";
        }
        return "no .gnu.version_r section (nothing to do)";
    }

    private static string ReadString(byte[] data, int offset)
    {
        var end = Array.IndexOf(data, (byte)0, offset);
        return Encoding.ASCII.GetString(data, offset, end - offset);
    }
}
