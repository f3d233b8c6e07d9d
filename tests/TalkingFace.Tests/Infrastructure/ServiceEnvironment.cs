using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using DotNet.Testcontainers.Builders;
using DotNet.Testcontainers.Configurations;
using DotNet.Testcontainers.Containers;
using Testcontainers.PostgreSql;
using Testcontainers.RabbitMq;

namespace TalkingFace.Tests.Infrastructure;

/// <summary>How to reach the test broker; <see cref="ManagementPort"/> serves the HTTP management API.</summary>
public sealed record RabbitMqSettings(string Host, int Port, int ManagementPort, string Username, string Password);

/// <summary>How to reach the test S3 server; <see cref="Endpoint"/> is <c>host:port</c>, as the Minio SDK wants it.</summary>
public sealed record S3Settings(string Endpoint, string AccessKey, string SecretKey, bool UseSsl);

/// <summary>
/// PostgreSQL, RabbitMQ (with management API) and an S3 server for distributed-mode tests, shared by every
/// test class in the <c>"distributed"</c> collection. With a Docker engine the services are containers;
/// without one (the usual case here) they are the local services that <c>scripts/services.sh start</c>
/// runs and describes in <c>.services/connection.json</c>. Setting <c>TALKINGFACE_SERVICES_FILE</c>
/// picks that file even when Docker is available.
/// </summary>
public sealed class DistributedServices : IAsyncLifetime
{
    public const string StartCommand = "run scripts/services.sh start";
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(2);

    private readonly List<IContainer> _containers = [];
    private readonly ConcurrentBag<string> _virtualHosts = [];
    private string _postgres = "";
    private HttpClient? _management;

    /// <summary>Base connection string (host, port, user, password) of a role that may create databases.</summary>
    public string PostgresBaseConnectionString => _postgres;

    public RabbitMqSettings RabbitMqSettings { get; private set; } = null!;

    public S3Settings S3Settings { get; private set; } = null!;

    /// <summary>"testcontainers" or the path of the services file in use.</summary>
    public string Source { get; private set; } = "";

    public string PostgresConnectionString(string database) => $"{_postgres};Database={database}";

    /// <summary>A lowercase name safe for S3 buckets, RabbitMQ vhosts/queues and PostgreSQL databases: prefix + 8 hex.</summary>
    public string UniqueName(string prefix)
    {
        var clean = new StringBuilder(prefix.Length);
        foreach (var c in prefix.ToLowerInvariant())
            clean.Append(c is >= 'a' and <= 'z' or >= '0' and <= '9' or '-' or '.' ? c : '-');
        if (clean.Length == 0 || !char.IsAsciiLetterOrDigit(clean[0])) clean.Insert(0, 't');
        if (clean.Length > 54) clean.Length = 54;
        return clean + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
    }

    /// <summary>Creates a fresh vhost that the test user may configure, write and read; deleted when the fixture ends.</summary>
    public async Task<string> CreateVirtualHostAsync()
    {
        var name = UniqueName("test-");
        var http = Management();
        var vhost = Uri.EscapeDataString(name);
        await Put($"api/vhosts/{vhost}", new { });
        _virtualHosts.Add(name);
        await Put($"api/permissions/{vhost}/{Uri.EscapeDataString(RabbitMqSettings.Username)}",
            new { configure = ".*", write = ".*", read = ".*" });
        return name;

        async Task Put(string path, object body)
        {
            using var response = await http.PutAsJsonAsync(path, body);
            if (!response.IsSuccessStatusCode)
                throw new InvalidOperationException(
                    $"RabbitMQ management PUT /{path} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
    }

    public async Task InitializeAsync()
    {
        var file = Environment.GetEnvironmentVariable("TALKINGFACE_SERVICES_FILE");
        if (string.IsNullOrEmpty(file) && TestcontainersSettings.OS.DockerEndpointAuthConfig is not null)
            await StartContainersAsync();
        else
            await UseLocalServicesAsync(file ?? Path.Combine(TestPaths.RepoRoot, ".services", "connection.json"));
    }

    public async Task DisposeAsync()
    {
        if (_management is not null)
        {
            foreach (var vhost in _virtualHosts)
            {
                try { (await _management.DeleteAsync($"api/vhosts/{Uri.EscapeDataString(vhost)}")).Dispose(); }
                catch (Exception) { /* best effort: the broker may already be gone */ }
            }
            _management.Dispose();
        }
        foreach (var container in _containers) await container.DisposeAsync();
    }

    private HttpClient Management()
    {
        if (_management is not null) return _management;
        var s = RabbitMqSettings;
        var client = new HttpClient { BaseAddress = new Uri($"http://{s.Host}:{s.ManagementPort}/"), Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(
            "Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{s.Username}:{s.Password}")));
        return Interlocked.CompareExchange(ref _management, client, null) ?? client;
    }

    private async Task UseLocalServicesAsync(string file)
    {
        Source = file;
        if (!File.Exists(file))
            throw new InvalidOperationException($"No service description at {file}: {StartCommand}");

        LocalServicesFile? services;
        try
        {
            services = JsonSerializer.Deserialize<LocalServicesFile>(File.ReadAllText(file), new JsonSerializerOptions(JsonSerializerDefaults.Web));
        }
        catch (JsonException e)
        {
            throw new InvalidOperationException($"{file} is not valid ({e.Message}): {StartCommand}", e);
        }
        if (services?.Postgres is null || services.RabbitMq is null || services.S3 is null)
            throw new InvalidOperationException($"{file} lacks Postgres, RabbitMq or S3: {StartCommand}");

        _postgres = services.Postgres;
        RabbitMqSettings = services.RabbitMq;
        S3Settings = services.S3;

        var (s3Host, s3Port) = SplitEndpoint(S3Settings.Endpoint);
        var pg = new Npgsql.NpgsqlConnectionStringBuilder(_postgres);
        var checks = await Task.WhenAll(
            Probe("PostgreSQL", pg.Host ?? "127.0.0.1", pg.Port),
            Probe("RabbitMQ", RabbitMqSettings.Host, RabbitMqSettings.Port),
            Probe("RabbitMQ management", RabbitMqSettings.Host, RabbitMqSettings.ManagementPort),
            Probe("S3 (s3rver)", s3Host, s3Port));
        var down = checks.Where(c => c is not null).ToList();
        if (down.Count > 0)
            throw new InvalidOperationException($"{string.Join("; ", down)} (from {file}): {StartCommand}");
    }

    /// <summary>Null when host:port accepts a TCP connection within 2 s, else a description of what is down.</summary>
    private static async Task<string?> Probe(string service, string host, int port)
    {
        using var client = new TcpClient();
        using var timeout = new CancellationTokenSource(ConnectTimeout);
        try
        {
            await client.ConnectAsync(host, port, timeout.Token);
            return null;
        }
        catch (OperationCanceledException)
        {
            return $"{service} at {host}:{port} is down (no answer in {ConnectTimeout.TotalSeconds:0} s)";
        }
        catch (SocketException e)
        {
            return $"{service} at {host}:{port} is down ({e.SocketErrorCode})";
        }
    }

    private static (string Host, int Port) SplitEndpoint(string endpoint)
    {
        var colon = endpoint.LastIndexOf(':');
        return colon > 0 && int.TryParse(endpoint[(colon + 1)..], out var port)
            ? (endpoint[..colon], port)
            : (endpoint, 80);
    }

    private async Task StartContainersAsync()
    {
        Source = "testcontainers";
        const string user = "talkingface", password = "talkingface";
        const string minioUser = "talkingface", minioPassword = "talkingface-secret"; // MinIO wants >= 8 characters
        const ushort managementPort = 15672, minioPort = 9000;

        var postgres = new PostgreSqlBuilder("postgres:15").WithUsername(user).WithPassword(password).Build();
        // guest may only log in from loopback, which container traffic is not: use our own user.
        var rabbit = new RabbitMqBuilder("rabbitmq:3-management").WithUsername(user).WithPassword(password)
            .WithPortBinding(managementPort, true).Build();
        var minio = new ContainerBuilder("minio/minio:latest")
            .WithCommand("server", "/data")
            .WithEnvironment("MINIO_ROOT_USER", minioUser)
            .WithEnvironment("MINIO_ROOT_PASSWORD", minioPassword)
            .WithPortBinding(minioPort, true)
            .WithWaitStrategy(Wait.ForUnixContainer().UntilHttpRequestIsSucceeded(r => r.ForPort(minioPort).ForPath("/minio/health/live")))
            .Build();
        _containers.AddRange([postgres, rabbit, minio]);
        await Task.WhenAll(postgres.StartAsync(), rabbit.StartAsync(), minio.StartAsync());

        _postgres = $"Host={postgres.Hostname};Port={postgres.GetMappedPublicPort(5432)};Username={user};Password={password}";
        RabbitMqSettings = new RabbitMqSettings(rabbit.Hostname, rabbit.GetMappedPublicPort(5672),
            rabbit.GetMappedPublicPort(managementPort), user, password);
        S3Settings = new S3Settings($"{minio.Hostname}:{minio.GetMappedPublicPort(minioPort)}", minioUser, minioPassword, false);
    }

    /// <summary>The shape of <c>.services/connection.json</c> written by scripts/services.sh.</summary>
    private sealed record LocalServicesFile(string? Postgres, RabbitMqSettings? RabbitMq, S3Settings? S3);
}

/// <summary>Test classes marked <c>[Collection(DistributedCollection.Name)]</c> share one <see cref="DistributedServices"/>.</summary>
[CollectionDefinition(Name)]
public sealed class DistributedCollection : ICollectionFixture<DistributedServices>
{
    public const string Name = "distributed";
}
