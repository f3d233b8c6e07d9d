using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using TalkingFace.Gateway.Hosting;

namespace TalkingFace.Cli;

/// <summary>The standalone gateway (with all workers) started inside the CLI on a loopback port, with its data in one folder.</summary>
public sealed class StandaloneGateway : IAsyncDisposable
{
    private readonly WebApplication _app;

    private StandaloneGateway(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    public Uri Address { get; }

    public static async Task<StandaloneGateway> StartAsync(string dataDirectory, string modelsDirectory, bool verbose, CancellationToken ct)
    {
        Directory.CreateDirectory(dataDirectory);
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["urls"] = "http://127.0.0.1:0",
            ["Gateway:Mode"] = nameof(HostingMode.Standalone),
            ["Database:ConnectionString"] = $"Data Source={Path.Combine(dataDirectory, "talkingface.db")}",
            ["Storage:LocalRoot"] = Path.Combine(dataDirectory, "artifacts"),
            ["Models:Root"] = modelsDirectory,
            ["Inference:OptimizedModelCache"] = Path.Combine(dataDirectory, "ort-cache"),
            ["Pipeline:SweepInterval"] = "00:00:00.500",
            ["Worker:ProgressInterval"] = "00:00:01",
            ["Logging:LogLevel:Default"] = verbose ? "Information" : "Warning",
            ["Logging:LogLevel:Microsoft"] = "Warning",
            ["Logging:LogLevel:Microsoft.AspNetCore.StaticFiles"] = "Error",
            // Authentication registers data protection, which makes a key at start and warns that it is stored
            // unencrypted; the embedded gateway protects nothing with it (loopback, no cookies), so the warning is noise.
            ["Logging:LogLevel:Microsoft.AspNetCore.DataProtection"] = "Error",
            ["Logging:LogLevel:MassTransit"] = verbose ? "Warning" : "Error",
            // A failed stage is reported in the job itself; its warning log would say it twice.
            ["Logging:LogLevel:TalkingFace"] = verbose ? "Information" : "Error",
        });
        builder.AddGateway();
        var app = builder.Build();
        app.MapGateway();
        await app.StartAsync(ct);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new StandaloneGateway(app, new Uri(address));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
