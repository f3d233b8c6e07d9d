using TalkingFace.Gateway.Hosting;
using TalkingFace.Gateway.Persistence;

// The TalkingFace gateway. With no configuration it runs standalone: the workers, an in-memory bus,
// a SQLite file and a local artifact folder, all in this process. Set Gateway:Mode=Distributed for
// PostgreSQL, RabbitMQ and S3/MinIO with workers in their own processes.
// `--migrate-only` applies the database migrations and exits (the Helm chart's migration Job).
if (MigrateOnlyCommand.IsRequested(args)) return await MigrateOnlyCommand.RunAsync(args);

var builder = WebApplication.CreateBuilder(args);
builder.AddGateway();

var app = builder.Build();
app.MapGateway();
app.Run();
return 0;

/// <summary>Entry point, visible to integration tests.</summary>
public partial class Program;
