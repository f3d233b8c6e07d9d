using OpenCvSharp;

namespace TalkingFace.Workers.Hair.Detection;

/// <summary>
/// OpenCV's Haar cascades as Debian's <c>opencv-data</c> installs them (<c>/usr/share/opencv4/haarcascades</c>):
/// the embedded default detector, which needs no download. A CascadeClassifier is not safe to share between
/// threads, so each use takes the cascade's lock.
/// </summary>
public sealed class HaarCascades : IDisposable
{
    public const string FrontalFace = "haarcascade_frontalface_alt2.xml";
    public const string FrontalFaceDefault = "haarcascade_frontalface_default.xml";
    public const string Eye = "haarcascade_eye.xml";

    public static readonly IReadOnlyList<string> DefaultFolders = ["/usr/share/opencv4/haarcascades", "/usr/share/opencv/haarcascades", "/usr/local/share/opencv4/haarcascades"];

    private readonly Dictionary<string, (CascadeClassifier Cascade, Lock Gate)> _loaded = [];
    private readonly Lock _gate = new();

    /// <param name="folder">The configured folder; empty: the first of <see cref="DefaultFolders"/> that exists.</param>
    public HaarCascades(string? folder) =>
        Folder = folder is { Length: > 0 } ? folder : DefaultFolders.FirstOrDefault(Directory.Exists);

    /// <summary>The folder the cascades are read from; null when none of the default folders exists.</summary>
    public string? Folder { get; }

    public bool Has(string file) => Folder is not null && File.Exists(Path.Combine(Folder, file));

    /// <exception cref="CascadeMissingException">One of the files is not there (the message says what to install).</exception>
    public void EnsureInstalled(params string[] files)
    {
        foreach (var file in files)
        {
            if (!Has(file)) throw new CascadeMissingException(Missing(file));
        }
    }

    private string Missing(string file) => Folder is null
        ? $"OpenCV's face cascades are not installed (none of {string.Join(", ", DefaultFolders)} exists): apt-get install opencv-data"
        : $"OpenCV's face cascade {file} is not in {Folder}: apt-get install opencv-data (or point Hair:Detection:CascadeFolder at a folder that has it)";

    /// <summary>Runs <paramref name="work"/> with the named cascade, loading it on first use.</summary>
    /// <exception cref="CascadeMissingException">The cascade's file is not installed.</exception>
    public T Use<T>(string file, Func<CascadeClassifier, T> work)
    {
        (CascadeClassifier Cascade, Lock Gate) entry;
        lock (_gate)
        {
            if (!_loaded.TryGetValue(file, out entry))
            {
                EnsureInstalled(file);
                var path = Path.Combine(Folder!, file);
                var cascade = new CascadeClassifier(path);
                if (cascade.Empty()) throw new InvalidOperationException($"OpenCV cascade {path} could not be loaded");
                entry = (cascade, new Lock());
                _loaded[file] = entry;
            }
        }
        lock (entry.Gate) return work(entry.Cascade);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var (cascade, _) in _loaded.Values) cascade.Dispose();
            _loaded.Clear();
        }
    }
}

/// <summary>An OpenCV cascade file is not installed; the message names it and the package that brings it.</summary>
public sealed class CascadeMissingException(string message) : InvalidOperationException(message);
