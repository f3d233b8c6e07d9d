using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Memory;

namespace TalkingFace.Hosting;

public static class DistributedDefaults
{
    /// <summary>
    /// Makes RabbitMQ, S3 and PostgreSQL the defaults (a worker process, or the gateway in distributed mode).
    /// They are inserted as the lowest-priority source, so any explicit setting still wins.
    /// </summary>
    public static IConfigurationBuilder UseDistributedDefaults(this IConfigurationBuilder configuration)
    {
        configuration.Sources.Insert(0, new MemoryConfigurationSource
        {
            InitialData = new Dictionary<string, string?>
            {
                ["Messaging:Transport"] = "RabbitMq",
                ["Storage:Provider"] = "S3",
                ["Database:Provider"] = "Postgres",
            },
        });
        return configuration;
    }
}
