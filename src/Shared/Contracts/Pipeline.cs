namespace TalkingFace.Contracts;

/// <summary>The stages a job moves through; each is served by its own worker process.</summary>
public static class Stages
{
    public const string Audio = "audio";
    public const string Motion = "motion";
    public const string Hair = "hair";
    /// <summary>A stage that does no work: the pipeline probe (<see cref="JobKinds.Probe"/>), served by every worker.</summary>
    public const string Probe = "probe";

    public static readonly IReadOnlyList<string> All = [Audio, Motion, Hair, Probe];

    /// <summary>One queue per stage and device class, so each class scales on its own backlog.</summary>
    public static string QueueName(string stage, string deviceClass) => $"{stage}.{deviceClass}";
}

/// <summary>Kinds of job the gateway accepts.</summary>
public static class JobKinds
{
    public const string TalkingFace = "talking-face";
    public const string Hair = "hair";
    /// <summary>
    /// A job with no input and one stage that does nothing: it goes through everything else a job does (tenant,
    /// database, scheduler, queue, a worker, events), so it checks a deployment end to end and measures the
    /// pipeline's own cost (bench/load).
    /// </summary>
    public const string Probe = "probe";

    public static readonly IReadOnlyList<string> All = [TalkingFace, Hair, Probe];

    public static IReadOnlyList<string> StagesOf(string kind) => kind switch
    {
        TalkingFace => [Stages.Audio, Stages.Motion],
        Hair => [Stages.Hair],
        Probe => [Stages.Probe],
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown job kind"),
    };
}

/// <summary>Device classes a worker can belong to. The set is configurable; these are the defaults.</summary>
public static class DeviceClasses
{
    public const string Cpu = "cpu";
    public const string Rtx = "rtx";
    public const string Jetson = "jetson";
    public const string Apple = "apple";
    public const string Auto = "auto";

    public static readonly IReadOnlyList<string> Defaults = [Cpu, Rtx, Jetson, Apple];
}

/// <summary>Step names of the paper's Table 2 split, plus queue wait and artifact I/O.</summary>
public static class Steps
{
    public const string AudioConversion = "audio_conversion";
    public const string FeatureExtraction = "feature_extraction";
    public const string F0Extraction = "f0_extraction";
    public const string BatchPreparation = "batch_preparation";
    public const string AudioToMotion = "audio_to_motion";
    public const string FaceDetection = "face_detection";
    public const string HairTransfer = "hair_transfer";
    public const string FaceAlignment = "face_alignment";
    public const string HairEmbedding = "hair_embedding";
    public const string HairShape = "hair_shape";
    public const string HairBlend = "hair_blend";
    public const string HairSynthesis = "hair_synthesis";
    public const string PasteBack = "paste_back";
    public const string ArtifactIo = "artifact_io";
}

/// <summary>Names of the artifacts stages hand to each other (object keys are <c>jobs/{id}/{stage}/{name}</c>).</summary>
public static class ArtifactNames
{
    public const string InputAudio = "input-audio";
    public const string Audio16k = "audio-16k.wav";
    public const string Features = "features.npy";
    public const string F0 = "f0.npy";
    public const string InputFace = "input-face";
    public const string InputShape = "input-shape";
    public const string InputColor = "input-color";
    /// <summary>Hair stage: every face the detector found (boxes, scores, keypoints) and the verdict; written on refusal too.</summary>
    public const string Detections = "detections.json";
    /// <summary>Hair stage: the FFHQ-aligned crop of the face photo at the transfer's resolution.</summary>
    public const string AlignedFace = "aligned.png";
    /// <summary>Hair stage: the transfer's aligned result.</summary>
    public const string HairResult = "result.png";
    /// <summary>Hair stage: the original photo with the result pasted back.</summary>
    public const string PastedPhoto = "pasted.png";

    public static string Key(Guid jobId, string stage, string name) => $"jobs/{jobId:N}/{stage}/{name}";
}

/// <summary>
/// Where the gallery's pre-aligned hair references live in the artifact store. Only a gallery id travels on the bus;
/// the hair worker turns it into a key here.
/// </summary>
public static class GalleryKeys
{
    public const string Index = "gallery/index.json";

    public static string Image(string id) => $"gallery/{id}/image.png";
    public static string Thumbnail(string id) => $"gallery/{id}/thumbnail.png";

    /// <summary>Ids are lower-case letters, digits and dashes (1-64), so they are safe inside keys and URLs.</summary>
    public static bool IsValidId(string id) =>
        id.Length is > 0 and <= 64 && id.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-');
}
