using System.Text;
using Minio;
using Minio.DataModel.Args;
using Npgsql;
using RabbitMQ.Client;

namespace TalkingFace.Tests.Infrastructure;

/// <summary>The distributed-mode services answer the way the product code will use them.</summary>
[Collection(DistributedCollection.Name)]
public sealed class ServiceEnvironmentTests(DistributedServices services)
{
    [Fact]
    public async Task RabbitMq_new_virtual_host_accepts_a_connection_and_round_trips_a_message()
    {
        var vhost = await services.CreateVirtualHostAsync();
        var s = services.RabbitMqSettings;
        var factory = new ConnectionFactory
        {
            HostName = s.Host, Port = s.Port, UserName = s.Username, Password = s.Password, VirtualHost = vhost,
        };

        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var queue = await channel.QueueDeclareAsync(queue: "", durable: false, exclusive: true, autoDelete: true);
        await channel.BasicPublishAsync(exchange: "", routingKey: queue.QueueName, body: Encoding.UTF8.GetBytes("ping"));

        BasicGetResult? got = null;
        for (var deadline = DateTime.UtcNow.AddSeconds(5); got is null && DateTime.UtcNow < deadline; await Task.Delay(20))
            got = await channel.BasicGetAsync(queue.QueueName, autoAck: true);

        Assert.NotNull(got);
        Assert.Equal("ping", Encoding.UTF8.GetString(got.Body.Span));
    }

    [Fact]
    public async Task Postgres_answers_and_the_test_role_may_create_databases()
    {
        await using var admin = new NpgsqlConnection(services.PostgresConnectionString("postgres"));
        await admin.OpenAsync();
        Assert.Equal(1, await new NpgsqlCommand("select 1", admin).ExecuteScalarAsync());

        var database = services.UniqueName("tf-test-");
        await new NpgsqlCommand($"create database \"{database}\"", admin).ExecuteNonQueryAsync();
        try
        {
            await using var db = new NpgsqlConnection(services.PostgresConnectionString(database) + ";Pooling=false");
            await db.OpenAsync();
            Assert.Equal(database, await new NpgsqlCommand("select current_database()", db).ExecuteScalarAsync());
        }
        finally
        {
            await new NpgsqlCommand($"drop database \"{database}\" with (force)", admin).ExecuteNonQueryAsync();
        }
    }

    [Fact]
    public async Task S3_put_get_and_list_round_trip_through_the_minio_sdk()
    {
        var s = services.S3Settings;
        using var minio = (MinioClient)new MinioClient()
            .WithEndpoint(s.Endpoint).WithCredentials(s.AccessKey, s.SecretKey).WithSSL(s.UseSsl).Build();
        var bucket = services.UniqueName("tf-test-");
        var payload = Encoding.UTF8.GetBytes("talking face " + bucket);

        await minio.MakeBucketAsync(new MakeBucketArgs().WithBucket(bucket));
        using (var upload = new MemoryStream(payload))
        {
            await minio.PutObjectAsync(new PutObjectArgs().WithBucket(bucket).WithObject("jobs/1/hello.txt")
                .WithStreamData(upload).WithObjectSize(payload.Length).WithContentType("text/plain"));
        }

        byte[]? downloaded = null;
        await minio.GetObjectAsync(new GetObjectArgs().WithBucket(bucket).WithObject("jobs/1/hello.txt")
            .WithCallbackStream(async (stream, ct) =>
            {
                using var copy = new MemoryStream();
                await stream.CopyToAsync(copy, ct);
                downloaded = copy.ToArray();
            }));
        Assert.Equal(payload, downloaded);

        // Listing needs the s3rver namespace patch that scripts/services.sh applies.
        var keys = new List<string>();
        await foreach (var item in minio.ListObjectsEnumAsync(new ListObjectsArgs().WithBucket(bucket).WithPrefix("jobs/").WithRecursive(true)))
            keys.Add(item.Key);
        Assert.Equal(["jobs/1/hello.txt"], keys);
    }

    [Fact]
    public void UniqueName_is_lowercase_and_bucket_safe()
    {
        var name = services.UniqueName("My_Prefix-");
        Assert.Matches("^[a-z0-9][a-z0-9.-]{2,62}$", name);
        Assert.StartsWith("my-prefix-", name);
        Assert.NotEqual(name, services.UniqueName("My_Prefix-"));
    }
}
