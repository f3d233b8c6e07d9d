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

    public HaarCascades(string? folder)
    {
        Folder = folder is { Length: > 0 } ? folder : DefaultFolders.FirstOrDefault(Directory.Exists)
            ?? throw new InvalidOperationException($"OpenCV's face cascades are not installed: none of {string.Join(", ", DefaultFolders)} exists (Debian: apt-get install opencv-data)");
    }

    public string Folder { get; }

    /// <summary>Runs <paramref name="work"/> with the named cascade, loading it on first use.</summary>
    public T Use<T>(string file, Func<CascadeClassifier, T> work)
    {
        (CascadeClassifier Cascade, Lock Gate) entry;
        lock (_gate)
        {
            if (!_loaded.TryGetValue(file, out entry))
            {
                var path = Path.Combine(Folder, file);
                if (!File.Exists(path)) throw new InvalidOperationException($"OpenCV cascade {path} is missing (Debian: apt-get install opencv-data)");
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
