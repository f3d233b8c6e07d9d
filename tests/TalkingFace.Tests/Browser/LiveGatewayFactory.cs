using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using TalkingFace.Tests.Infrastructure;
using TalkingFace.Tests.Standalone;

namespace TalkingFace.Tests.Browser;

/// <summary>
/// The standalone gateway on a real loopback port (Kestrel, not the in-memory test server), so a browser or the CLI's
/// own HttpClient can reach it; with the repository's demo models, so talking-face jobs succeed end to end.
/// The page is served from src/Gateway/wwwroot (the factory's content root).
/// </summary>
public sealed class LiveGatewayFactory : StandaloneGatewayFactory
{
    public LiveGatewayFactory() : this(new Dictionary<string, string?>())
    {
    }

    /// <param name="settings">Configuration on top of the defaults, e.g. <c>Motion:Preview:Enabled=false</c>.</param>
    public LiveGatewayFactory(IDictionary<string, string?> settings) : base(WithDefaults(settings))
    {
        UseKestrel(0);
    }

    private static Dictionary<string, string?> WithDefaults(IDictionary<string, string?> settings)
    {
        var all = new Dictionary<string, string?>
        {
            ["Models:Root"] = Path.Combine(TestPaths.RepoRoot, "models"),
            ["Worker:ProgressInterval"] = "00:00:00.200",
        };
        foreach (var (key, value) in settings) all[key] = value;
        return all;
    }

    /// <summary>
    /// For hair jobs: its own model store (<see cref="StandaloneGatewayFactory.ModelsRoot"/>) holding the shared
    /// YOLOv8-face detector and the repository's demo hair chain, as the hair tests set it up.
    /// </summary>
    public static LiveGatewayFactory ForHair()
    {
        var factory = new LiveGatewayFactory(new Dictionary<string, string?> { ["Models:Root"] = null });
        factory.UseOwnModelStore = true;
        Hair.HairTestKit.InstallYoloDetector(factory.ModelsRoot);
        Hair.HairGatewayFactory.CopyFolder(Path.Combine(TestPaths.RepoRoot, "models", "hairfast"), Path.Combine(factory.ModelsRoot, "hairfast"));
        return factory;
    }

    private bool UseOwnModelStore { get; set; }

    protected override void ConfigureWebHost(Microsoft.AspNetCore.Hosting.IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        if (UseOwnModelStore) builder.UseSetting("Models:Root", ModelsRoot);
    }

    /// <summary>Starts the server (once) and returns its address, e.g. http://127.0.0.1:41234/.</summary>
    public Uri Address
    {
        get
        {
            StartServer();
            var addresses = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
            var address = addresses.First().Replace("[::]", "127.0.0.1", StringComparison.Ordinal).Replace("localhost", "127.0.0.1", StringComparison.Ordinal);
            return new Uri(address.EndsWith('/') ? address : address + "/");
        }
    }

    /// <summary>A plain HttpClient on the real port (the factory's CreateClient talks to the in-memory server).</summary>
    public HttpClient CreateLiveClient() => new() { BaseAddress = Address, Timeout = TimeSpan.FromMinutes(2) };
}
