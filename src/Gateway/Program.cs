using TalkingFace.Gateway.Hosting;

// The TalkingFace gateway. With no configuration it runs standalone: the workers, an in-memory bus,
// a SQLite file and a local artifact folder, all in this process. Set Gateway:Mode=Distributed for
// PostgreSQL, RabbitMQ and S3/MinIO with workers in their own processes.
var builder = WebApplication.CreateBuilder(args);
builder.AddGateway();

var app = builder.Build();
app.MapGateway();
app.Run();

/// <summary>Entry point, visible to integration tests.</summary>
public partial class Program;
