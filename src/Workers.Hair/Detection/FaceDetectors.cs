using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using OpenCvSharp;
using TalkingFace.Models;
using TalkingFace.Workers.Hair.Imaging;

namespace TalkingFace.Workers.Hair.Detection;

/// <summary>Bound from <c>Hair:Detection</c>.</summary>
public sealed class FaceDetectionOptions
{
    public const string Section = "Hair:Detection";

    /// <summary>
    /// <c>auto</c>: the model store's YOLOv8-face model (<see cref="Model"/>) when it has one, else OpenCV's cascades;
    /// <c>yolo</c>: the model only (jobs fail "not configured" without it); <c>haar</c>: the cascades only.
    /// </summary>
    public string Detector { get; set; } = "auto";
    /// <summary>Model store name of the YOLOv8-face model.</summary>
    public string Model { get; set; } = "face-detector";
    public float Confidence { get; set; } = 0.45f;
    public float Iou { get; set; } = 0.5f;
    /// <summary>Check each YOLO candidate with the frontal-face cascade on its aligned crop (refuses non-human faces).</summary>
    public bool VerifyHumanFace { get; set; } = true;
    /// <summary>Folder of OpenCV's Haar cascades; empty: Debian's opencv-data location.</summary>
    public string? CascadeFolder { get; set; }
    /// <summary>The cascades search a copy scaled down to at most this many pixels on its long side.</summary>
    public int HaarMaxSide { get; set; } = 800;
}

/// <summary>
/// Builds the configured face search once (detector + human-face check) and keeps it; the preloader calls
/// <see cref="Get"/> and warms it at start, so no model loads on the request path.
/// </summary>
public sealed class FaceDetectors(IOptions<FaceDetectionOptions> options, ModelCatalog catalog, ModelRegistry registry, OpenCvNative openCv,
    ILogger<FaceDetectors> logger) : IDisposable
{
    private readonly Lock _gate = new();
    private HaarCascades? _cascades;
    private FaceSearch? _search;

    public string Provider { get; private set; } = "opencv-cpu";

    /// <summary>The face search.</summary>
    /// <exception cref="StageFailedException">
    /// The configured detector is not available (reason worded for the job, with what to install): OpenCV's native
    /// library does not load, or the cascades the default detector needs are not installed.
    /// </exception>
    public FaceSearch Get()
    {
        lock (_gate)
        {
            if (_search is not null) return _search;
            openCv.EnsureLoaded();
            var o = options.Value;
            var kind = o.Detector.ToLowerInvariant();
            if (kind is not ("auto" or "yolo" or "haar"))
                throw new StageFailedException($"Hair:Detection:Detector '{o.Detector}' is not one of auto, yolo, haar");
            var useYolo = kind == "yolo" || (kind == "auto" && catalog.Find(o.Model) is not null);
            try
            {
                _cascades ??= new HaarCascades(o.CascadeFolder);
                if (useYolo)
                {
                    var model = registry.Get(o.Model) ?? throw new StageFailedException(catalog.NotConfigured(o.Model, "face detection"));
                    var yolo = new YoloFaceDetector(model, o.Confidence, o.Iou);
                    Provider = yolo.Provider;
                    _search = new FaceSearch(yolo, o.VerifyHumanFace ? new HumanFaceCheck(_cascades) : null);
                }
                else
                {
                    _cascades.EnsureInstalled(HaarCascades.FrontalFace, HaarCascades.Eye);
                    _search = new FaceSearch(new HaarFaceDetector(_cascades, o.HaarMaxSide), null);
                }
            }
            catch (CascadeMissingException e)
            {
                throw new StageFailedException($"no face detector: {e.Message}, or put a YOLOv8-face model in the model store as '{o.Model}'");
            }
            catch (Exception e) when (e is ModelStoreException or InvalidOperationException)
            {
                throw new StageFailedException($"face detection is not available: {e.Message}");
            }
            logger.LogInformation("Face detection: {Detector}", _search.DetectorName);
            return _search;
        }
    }

    /// <summary>
    /// Everything a job does before and after the transfer, once, on synthetic images: a search, the human-face check
    /// on a made-up candidate, both cascades, an alignment and a paste-back at a photo's size. The first use of each
    /// OpenCV routine and of this code costs seconds (native initialisation, JIT); this keeps it off the first job.
    /// </summary>
    public void Warm()
    {
        var search = Get();
        using var image = new Mat(1066, 800, MatType.CV_8UC3, new Scalar(128, 128, 128));
        Cv2.Circle(image, new Point(400, 500), 160, new Scalar(150, 170, 200), -1);
        search.Find(image);
        var candidate = new DetectedFace(new FaceBox(250, 350, 300, 360), 1, [new(340, 460), new(460, 460), new(400, 530), new(350, 600), new(450, 600)]);
        new HumanFaceCheck(_cascades!).Measure(image, candidate);
        using var grey = new Mat(HumanFaceCheck.CropSize, HumanFaceCheck.CropSize, MatType.CV_8UC1, Scalar.All(128));
        foreach (var cascade in new[] { HaarCascades.FrontalFace, HaarCascades.Eye }.Where(_cascades!.Has)) // YOLO needs them only for grey photos
            _cascades.Use(cascade, c => c.DetectMultiScale(grey));
        foreach (var size in new[] { 128, 256 })
        {
            using var aligned = Alignment.FfhqAlignment.Align(image, candidate.Keypoints, size);
            using var mask = Alignment.PasteBack.Mask(new float[size * size], size);
            using var pasted = Alignment.PasteBack.Paste(image, aligned.Image, mask, aligned.Matrix);
            Imaging.ImageCodec.EncodePng(aligned.Image);
            Imaging.ImageCodec.FromRgb(Imaging.ImageCodec.ToRgb(aligned.Image)).Dispose();
        }
        Imaging.ImageCodec.DecodeBgr(Imaging.ImageCodec.EncodePng(image)).Dispose();
    }

    public void Dispose() => _cascades?.Dispose();
}

/// <summary>Loads and warms the face detector (and its human-face check) before the worker takes work.</summary>
internal sealed class FaceDetectorPreloader(FaceDetectors detectors, ILogger<FaceDetectorPreloader> logger) : IHostedService, IHealthCheck
{
    private volatile string? _state;
    private volatile string? _problem;

    public Task StartAsync(CancellationToken ct)
    {
        try
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            detectors.Warm();
            _state = $"{detectors.Get().DetectorName} on {detectors.Provider}";
            logger.LogInformation("Warmed up face detection ({Detector}) in {Seconds:F2} s", _state, watch.Elapsed.TotalSeconds);
        }
        catch (Exception e) when (e is StageFailedException or OpenCvSharpException or DllNotFoundException or TypeInitializationException or CascadeMissingException)
        {
            // Not an error of this process: the standalone gateway hosts this stage beside the talking-face ones, which
            // need none of it. Hair jobs fail with the reason and readiness says it; the log only mentions it.
            _state = null;
            _problem = e is StageFailedException ? e.Message : OpenCvNative.Describe(e);
            logger.LogWarning("Face detection is not usable; hair jobs will fail with: {Reason}", _problem);
        }
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken ct) => Task.CompletedTask;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default) =>
        Task.FromResult(_state is { } s ? HealthCheckResult.Healthy(s) : HealthCheckResult.Unhealthy(_problem ?? "face detection is not loaded"));
}
