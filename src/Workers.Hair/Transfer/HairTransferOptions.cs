namespace TalkingFace.Workers.Hair.Transfer;

/// <summary>Bound from the <c>Hair</c> configuration section: which hair chain the worker runs, and its noise seed.</summary>
public sealed class HairTransferOptions
{
    public const string Section = "Hair";

    /// <summary>Name of the hair transfer chain in the model store (<c>{Models:Root}/{name}/{version}/manifest.json</c>).</summary>
    public string TransferModel { get; set; } = "hairfast";

    /// <summary>Seed of the generator noise (HairFastGAN's default seed, 3407): the same inputs give the same image.</summary>
    public ulong NoiseSeed { get; set; } = 3407;
}
