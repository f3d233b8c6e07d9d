using System.Text.RegularExpressions;
using OpenCvSharp;

namespace TalkingFace.Workers.Hair.Imaging;

/// <summary>
/// Whether OpenCV's native library (OpenCvSharp's <c>libOpenCvSharpExtern.so</c>) loads, checked once on first use,
/// and if not, why in words a person can act on: the shared library it could not find and the install command.
/// The hair stage asks before touching OpenCV, so a machine without the libraries fails hair jobs with that reason
/// (and a talking-face job, which needs none of it, never notices).
/// </summary>
public sealed partial class OpenCvNative
{
    /// <summary>
    /// What libOpenCvSharpExtern.so 4.13 needs beyond glibc, as Debian 12 packages (from <c>ldd</c>/<c>readelf -d</c>
    /// on the runtime package's .so): GTK 3 brings freetype, harfbuzz, pango, atk, cairo, gdk-pixbuf, glib and X11;
    /// libdrm and libatomic are needed directly. Ubuntu 24.04 names GTK's package libgtk-3-0t64.
    /// </summary>
    public const string InstallCommand = "apt-get install libgtk-3-0 libdrm2 libatomic1";

    private readonly Lazy<string?> _problem;

    /// <summary>Checks the real library: the first OpenCV call loads it.</summary>
    public OpenCvNative() : this(() => Cv2.GetVersionString())
    {
    }

    /// <summary>Checks with <paramref name="load"/>, which throws what loading the library throws (tests use this).</summary>
    public OpenCvNative(Action load) =>
        _problem = new Lazy<string?>(() =>
        {
            try
            {
                load();
                return null;
            }
            catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or BadImageFormatException or EntryPointNotFoundException)
            {
                return Describe(e);
            }
        });

    /// <summary>Null when the library loads; else the reason, with the install command.</summary>
    public string? Problem => _problem.Value;

    /// <exception cref="StageFailedException">The library does not load.</exception>
    public void EnsureLoaded()
    {
        if (Problem is { } problem) throw new StageFailedException(problem);
    }

    /// <summary>Turns a load failure (.NET's DllNotFoundException, carrying dlopen's messages) into the reason.</summary>
    public static string Describe(Exception e)
    {
        var inner = e;
        while (inner is not DllNotFoundException && inner.InnerException is not null) inner = inner.InnerException;
        var message = inner.Message;
        // dlopen says "NAME: cannot open shared object file" for each file it tried; a dependency is named bare.
        var missing = CannotOpen().Matches(message).Select(m => m.Groups["name"].Value)
            .Select(n => Path.GetFileName(n))
            .Distinct(StringComparer.Ordinal)
            .ToList();
        var dependency = missing.FirstOrDefault(n => !n.Contains("OpenCvSharpExtern", StringComparison.OrdinalIgnoreCase));
        if (dependency is not null)
            return $"the hair stage cannot load OpenCV's native library (libOpenCvSharpExtern.so needs {dependency}): {InstallCommand}";
        if (missing.Count > 0)
            return "the hair stage cannot load OpenCV's native library: libOpenCvSharpExtern.so is not beside the program " +
                   "(it comes with the OpenCvSharp4.official.runtime.linux-x64 package; this build is for another platform or was copied without it)";
        return $"the hair stage cannot load OpenCV's native library ({FirstLine(message)}): {InstallCommand}";
    }

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();

    [GeneratedRegex(@"(?<name>[^\s:'""]+\.so(?:\.[0-9]+)*): cannot open shared object file")]
    private static partial Regex CannotOpen();
}
