namespace TalkingFace.Tests.Faults;

/// <summary>
/// A RabbitMQ node of the test's own (its own node name, ports, mnesia and log folders; no plugins), started like
/// scripts/services.sh starts the shared one, so that a test can restart it. Needs root (runs it as the rabbitmq user).
/// </summary>
internal sealed class PrivateRabbitMq : IAsyncDisposable
{
    private const string Bin = "/usr/lib/rabbitmq/bin";
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "tf-rabbit-" + Guid.NewGuid().ToString("N")[..8]);

    public int Port { get; } = FaultTools.FreePort();
    private int DistPort { get; } = FaultTools.FreePort();
    private string Node => $"tf-fault-{Port}@localhost";
    private string PidFile => Path.Combine(_dir, "rabbit.pid");

    public static bool Available => File.Exists(Path.Combine(Bin, "rabbitmq-server")) && Environment.UserName == "root";

    public async Task StartAsync()
    {
        if (!Directory.Exists(_dir))
        {
            Directory.CreateDirectory(Path.Combine(_dir, "mnesia"));
            Directory.CreateDirectory(Path.Combine(_dir, "log"));
            await File.WriteAllTextAsync(Path.Combine(_dir, "rabbitmq.conf"), "loopback_users.guest = true\n");
            await File.WriteAllTextAsync(Path.Combine(_dir, "enabled_plugins"), "[].\n");
            await FaultTools.RunAsync("chown", ["-R", "rabbitmq:rabbitmq", _dir]);
        }
        File.Delete(PidFile);
        await Rabbit("rabbitmq-server", "-detached");
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!File.Exists(PidFile) || new FileInfo(PidFile).Length == 0)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("the private RabbitMQ node wrote no pid file");
            await Task.Delay(200);
        }
        await Rabbit("rabbitmqctl", "wait", "--timeout", "90", PidFile);
        while (!await FaultTools.PortOpenAsync(Port))
        {
            if (DateTime.UtcNow > deadline.AddSeconds(60)) throw new TimeoutException("the private RabbitMQ node does not listen");
            await Task.Delay(200);
        }
    }

    /// <summary>Stops the whole node (its Erlang VM), as an operator's restart or a crash of the broker would.</summary>
    public Task StopAsync() => Rabbit("rabbitmqctl", "stop", "--timeout", "60");

    private Task<string> Rabbit(string tool, params string[] args) => FaultTools.RunAsync("runuser",
        ["-u", "rabbitmq", "--", "env", "HOME=/var/lib/rabbitmq",
            $"RABBITMQ_NODENAME={Node}", "RABBITMQ_NODE_IP_ADDRESS=127.0.0.1", $"RABBITMQ_NODE_PORT={Port}",
            $"RABBITMQ_DIST_PORT={DistPort}", "ERL_EPMD_ADDRESS=127.0.0.1",
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}",
            $"RABBITMQ_MNESIA_BASE={_dir}/mnesia", $"RABBITMQ_LOG_BASE={_dir}/log", $"RABBITMQ_PID_FILE={PidFile}",
            $"RABBITMQ_CONFIG_FILE={_dir}/rabbitmq.conf", $"RABBITMQ_ENABLED_PLUGINS_FILE={_dir}/enabled_plugins",
            $"{Bin}/{tool}", .. args], TimeSpan.FromSeconds(150));

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
            // already stopped
        }
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }
}
