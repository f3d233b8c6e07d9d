using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using TalkingFace.Gateway.Tenancy;
using Minio;
using Minio.DataModel.Args;
using TalkingFace.Gateway.Jobs;
using TalkingFace.Gateway.Persistence;
using TalkingFace.Hosting;
using TalkingFace.Messaging;
using TalkingFace.Storage;
using TalkingFace.Telemetry;
using TalkingFace.Tests.Infrastructure;
using TalkingFace.Workers;
using TalkingFace.Workers.Probe;
using TalkingFace.Workers.Audio;
using TalkingFace.Workers.Hair;
using TalkingFace.Workers.Motion;

namespace TalkingFace.Tests.Distributed;

/// <summary>
/// One isolated distributed deployment per test: its own PostgreSQL database, RabbitMQ virtual host and
/// S3 bucket on the real local services; the gateway through <see cref="WebApplicationFactory{TEntryPoint}"/>
/// and audio workers as separate hosts with their own bus connections.
/// </summary>
public sealed class DistributedPipeline : IAsyncDisposable
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter() } };

    private readonly DistributedServices _services;
    private readonly List<WebApplication> _workers = [];
    private readonly Dictionary<string, string?> _settings;
    private WebApplicationFactory<Program>? _gateway;
    private string? _defaultKey;

    private DistributedPipeline(DistributedServices services, string database, string virtualHost, string bucket, IDictionary<string, string?> overrides)
    {
        _services = services;
        Database = database;
        VirtualHost = virtualHost;
        Bucket = bucket;
        var rabbit = services.RabbitMqSettings;
        var s3 = services.S3Settings;
        _settings = new Dictionary<string, string?>
        {
            ["Gateway:Mode"] = "Distributed",
            ["Database:ConnectionString"] = services.PostgresConnectionString(database),
            ["Messaging:RabbitMq:Host"] = rabbit.Host,
            ["Messaging:RabbitMq:Port"] = rabbit.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Messaging:RabbitMq:VirtualHost"] = virtualHost,
            ["Messaging:RabbitMq:Username"] = rabbit.Username,
            ["Messaging:RabbitMq:Password"] = rabbit.Password,
            ["Storage:Provider"] = "S3",
            ["Storage:S3:Endpoint"] = s3.Endpoint,
            ["Storage:S3:AccessKey"] = s3.AccessKey,
            ["Storage:S3:SecretKey"] = s3.SecretKey,
            ["Storage:S3:UseSsl"] = s3.UseSsl ? "true" : "false",
            ["Storage:S3:Bucket"] = bucket,
            ["Models:Root"] = Path.Combine(Path.GetTempPath(), "talkingface-no-models"),
            ["Pipeline:SweepInterval"] = "00:00:00.250",
            ["Worker:ProgressInterval"] = "00:00:00.500",
            ["Worker:HeartbeatInterval"] = "00:00:01",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in overrides) _settings[key] = value;
    }

    public string Database { get; }
    public string VirtualHost { get; }
    public string Bucket { get; }

    /// <summary>A second gateway (and workers) on the same database, virtual host and bucket.</summary>
    public DistributedPipeline AnotherReplica() => new(_services, Database, VirtualHost, Bucket, _settings);

    public static async Task<DistributedPipeline> CreateAsync(DistributedServices services, IDictionary<string, string?>? overrides = null) =>
        new(services, services.UniqueName("tf"), await services.CreateVirtualHostAsync(), services.UniqueName("tf"), overrides ?? new Dictionary<string, string?>());

    /// <summary>
    /// A client of the gateway (started on first use, migrating its database and creating the bucket) that sends the
    /// API key of this pipeline's default tenant ("default"), made on first use: distributed mode needs a key.
    /// </summary>
    public HttpClient Gateway()
    {
        _defaultKey ??= Task.Run(() => CreateTenantKeyAsync("default")).GetAwaiter().GetResult().Key;
        return GatewayWithKey(_defaultKey);
    }

    /// <summary>A client that sends <paramref name="apiKey"/> (of <see cref="CreateTenantKeyAsync"/>).</summary>
    public HttpClient GatewayWithKey(string apiKey)
    {
        var client = AnonymousGateway();
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", apiKey);
        return client;
    }

    /// <summary>
    /// A client with the default tenant's key that does not follow redirects: the factory's redirect handler loads every
    /// request body into memory (to send it again after a 307), which a test of streamed uploads cannot have.
    /// </summary>
    public HttpClient StreamingGateway()
    {
        var key = Gateway().DefaultRequestHeaders.Authorization;
        var client = _gateway!.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });
        client.DefaultRequestHeaders.Authorization = key;
        return client;
    }

    /// <summary>A client that sends no API key.</summary>
    public HttpClient AnonymousGateway()
    {
        _gateway ??= new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
        {
            foreach (var (key, value) in _settings) web.UseSetting(key, value);
        });
        return _gateway.CreateClient();
    }

    /// <summary>A new API key for <paramref name="tenant"/> (the tenant is made if new), as <c>talkingface keys create</c> makes it.</summary>
    public async Task<CreatedKey> CreateTenantKeyAsync(string tenant, int? requestsPerSecond = null, long? maxUploadBytes = null)
    {
        AnonymousGateway().Dispose(); // starts the gateway, which migrates the database
        await using var scope = _gateway!.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<TenantAdmin>().CreateKeyAsync(tenant, null, requestsPerSecond, maxUploadBytes);
    }

    /// <summary>The gateway's services (starts it).</summary>
    public IServiceProvider GatewayServices
    {
        get
        {
            AnonymousGateway().Dispose();
            return _gateway!.Services;
        }
    }

    /// <summary>Starts an audio worker as its own host, wired exactly like src/Workers.Audio/Program.cs.</summary>
    public Task<WebApplication> StartAudioWorkerAsync(string workerId) => StartAudioWorkerAsync(workerId, null);

    /// <summary>
    /// Starts an audio worker of <paramref name="deviceClass"/> (null: the default), with extra settings, and
    /// <paramref name="configure"/> to change its services after the stage's own registrations (e.g. another runner).
    /// </summary>
    public Task<WebApplication> StartAudioWorkerAsync(string workerId, string? deviceClass, IDictionary<string, string?>? settings = null,
        Action<WebApplicationBuilder>? configure = null) => StartWorkerAsync(workerId, "audio", builder =>
    {
        if (deviceClass is not null) builder.Configuration["Worker:DeviceClass"] = deviceClass;
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>()) builder.Configuration[key] = value;
        builder.AddAudioStage();
        builder.AddTalkingFaceBus(bus => bus.AddAudioStageConsumer(builder.Configuration).AddProbeStageConsumer(builder.Configuration));
        configure?.Invoke(builder);
    });

    /// <summary>
    /// The gateway on a real Kestrel socket on 127.0.0.1, for clients outside this process such as Prometheus;
    /// the client's base address is the server's and it sends the default tenant's key.
    /// </summary>
    public HttpClient GatewayOnSocket()
    {
        if (_gateway is null)
        {
            _gateway = new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
            {
                foreach (var (key, value) in _settings) web.UseSetting(key, value);
            });
            _gateway.UseKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0));
            _gateway.StartServer();
        }
        var addresses = _gateway.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
            .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses;
        _defaultKey ??= Task.Run(() => CreateTenantKeyAsync("default")).GetAwaiter().GetResult().Key;
        var client = new HttpClient { BaseAddress = new Uri(addresses.First()) };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", _defaultKey);
        return client;
    }

    /// <summary>Starts a motion worker as its own host, wired exactly like src/Workers.Motion/Program.cs.</summary>
    public Task<WebApplication> StartMotionWorkerAsync(string workerId) => StartWorkerAsync(workerId, "motion", builder =>
    {
        builder.AddMotionStage();
        builder.AddTalkingFaceBus(bus => bus.AddMotionStageConsumer(builder.Configuration).AddProbeStageConsumer(builder.Configuration));
    });

    /// <summary>Starts a hair worker as its own host, wired exactly like src/Workers.Hair/Program.cs.</summary>
    public Task<WebApplication> StartHairWorkerAsync(string workerId) => StartWorkerAsync(workerId, "hair", builder =>
    {
        builder.AddHairStage();
        builder.AddTalkingFaceBus(bus => bus.AddHairStageConsumer(builder.Configuration).AddProbeStageConsumer(builder.Configuration));
    });

    private async Task<WebApplication> StartWorkerAsync(string workerId, string stage, Action<WebApplicationBuilder> addStage)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.UseDistributedDefaults();
        builder.Configuration.AddInMemoryCollection(_settings);
        builder.Configuration["Worker:WorkerId"] = workerId;
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.AddTalkingFaceTelemetry("talkingface-worker-" + stage);
        builder.AddArtifactStore();
        builder.AddWorkerDefaults();
        addStage(builder);
        var app = builder.Build();
        app.MapOperationalEndpoints();
        await app.StartAsync();
        _workers.Add(app);
        return app;
    }

    /// <summary>This deployment's settings as environment variables, for a worker run as a real child process.</summary>
    public Dictionary<string, string> WorkerEnvironment(string workerId)
    {
        var env = _settings.Where(kv => kv.Value is not null).ToDictionary(kv => kv.Key.Replace(":", "__", StringComparison.Ordinal), kv => kv.Value!);
        env["Worker__WorkerId"] = workerId;
        return env;
    }

    public static async Task<JobView> SubmitTalkingFaceAsync(HttpClient client, string audioPath)
    {
        using var form = new MultipartFormDataContent();
        form.Add(new StreamContent(File.OpenRead(audioPath)), "audio", Path.GetFileName(audioPath));
        form.Add(new StringContent("hubert-large"), "featureModel");
        using var response = await client.PostAsync("/api/jobs/talking-face", form);
        Assert.True(response.IsSuccessStatusCode, $"submit answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return (await response.Content.ReadFromJsonAsync<JobView>(Json))!;
    }

    /// <summary>Polls the job until <paramref name="done"/> holds; fails the test (with the job's last state) if that takes unreasonably long.</summary>
    public static async Task<JobView> WaitForAsync(HttpClient client, Guid id, Func<JobView, bool> done, TimeSpan? limit = null)
    {
        var deadline = DateTime.UtcNow + (limit ?? TimeSpan.FromSeconds(90));
        JobView job;
        do
        {
            job = (await client.GetFromJsonAsync<JobView>($"/api/jobs/{id}", Json))!;
            if (done(job)) return job;
            await Task.Delay(150);
        }
        while (DateTime.UtcNow < deadline);
        Assert.Fail($"job {id} did not get there; last seen: {JsonSerializer.Serialize(job, Json)}");
        return job;
    }

    /// <summary>Waits for /health/ready (database, store and bus connected); fails with the last report.</summary>
    public static async Task WaitUntilReadyAsync(HttpClient client)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        string report;
        do
        {
            using var response = await client.GetAsync("/health/ready");
            report = await response.Content.ReadAsStringAsync();
            if (response.IsSuccessStatusCode) return;
            await Task.Delay(200);
        }
        while (DateTime.UtcNow < deadline);
        Assert.Fail("gateway never became ready: " + report);
    }

    public static bool IsTerminal(JobView job) => job.State is "succeeded" or "failed" or "cancelled";

    public IMinioClient Store() => new MinioClient()
        .WithEndpoint(_services.S3Settings.Endpoint)
        .WithCredentials(_services.S3Settings.AccessKey, _services.S3Settings.SecretKey)
        .WithSSL(_services.S3Settings.UseSsl)
        .Build();

    public async Task<byte[]> ReadObjectAsync(string key)
    {
        using var client = Store();
        using var buffer = new MemoryStream();
        await client.GetObjectAsync(new GetObjectArgs().WithBucket(Bucket).WithObject(key).WithCallbackStream(s => s.CopyTo(buffer)));
        return buffer.ToArray();
    }

    /// <summary>A context on the test's PostgreSQL database, to check what the gateway recorded.</summary>
    public JobsDbContext Db() => new PostgresJobsDbContext(new DbContextOptionsBuilder<PostgresJobsDbContext>()
        .UseNpgsql(_services.PostgresConnectionString(Database)).Options);

    /// <summary>One queue as RabbitMQ's management API reports it (ready and unacknowledged counts lag up to its stats interval).</summary>
    public async Task<JsonElement> QueueStatsAsync(string queue)
    {
        var s = _services.RabbitMqSettings;
        using var client = new HttpClient { BaseAddress = new Uri($"http://{s.Host}:{s.ManagementPort}/") };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{s.Username}:{s.Password}")));
        return await client.GetFromJsonAsync<JsonElement>($"api/queues/{Uri.EscapeDataString(VirtualHost)}/{Uri.EscapeDataString(queue)}");
    }

    public RabbitMQ.Client.ConnectionFactory Broker() => new()
    {
        HostName = _services.RabbitMqSettings.Host,
        Port = _services.RabbitMqSettings.Port,
        UserName = _services.RabbitMqSettings.Username,
        Password = _services.RabbitMqSettings.Password,
        VirtualHost = VirtualHost,
    };

    public async ValueTask DisposeAsync()
    {
        foreach (var worker in _workers)
        {
            await worker.StopAsync();
            await worker.DisposeAsync();
        }
        if (_gateway is not null) await _gateway.DisposeAsync();
    }
}
