using System.Runtime.InteropServices;

namespace CanaryFlow.Controller.Hosting;

/// <summary>
/// glibc's malloc gives threads that allocate at the same time arenas of their own, up to 8 per core, and keeps what
/// was freed in each for reuse. The runtime, Skia (the reports) and the TLS and compression libraries allocate on
/// many thread-pool threads, so a controller ends up with a dozen arenas, each holding freed memory. Two arenas are
/// plenty for a process that waits on I/O: in the 1,000-Canary load run, the native memory beside the GC heap at the
/// peak fell from 79–82 MiB to ~21 MiB (docs/benchmarks.md, "One replica under 300 MB"). This is the
/// <c>MALLOC_ARENA_MAX=2</c> that .NET containers are often given, set by the process itself so that it holds however
/// the controller is started; an explicit <c>MALLOC_ARENA_MAX</c> is left to rule.
/// </summary>
public static class NativeHeap
{
    public const int Arenas = 2;
    private const int ArenaMaxParameter = -8; // M_ARENA_MAX in glibc's malloc.h

    /// <summary>Limits glibc's malloc to <see cref="Arenas"/> arenas from now on; true when it did (Linux with glibc,
    /// no MALLOC_ARENA_MAX in the environment). Arenas made before the call stay: call it first thing.</summary>
    public static bool LimitArenas()
    {
        if (!OperatingSystem.IsLinux() || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("MALLOC_ARENA_MAX"))) return false;
        try
        {
            return mallopt(ArenaMaxParameter, Arenas) == 1; // glibc answers 1; musl's mallopt is a stub that answers 0
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int mallopt(int parameter, int value);
}
