using TalkingFace.Hosting;
using TalkingFace.Messaging;
using TalkingFace.Storage;
using TalkingFace.Telemetry;
using TalkingFace.Workers;
using TalkingFace.Workers.Probe;
using TalkingFace.Workers.Hair;

// The hair worker: consumes hair.{deviceClass}, writes artifacts to the store, reports to the gateway.
var builder = WebApplication.CreateBuilder(args);
builder.Configuration.UseDistributedDefaults(); // RabbitMQ and S3 unless configured otherwise
if (builder.Configuration["urls"] is null && builder.Configuration["http_ports"] is null) builder.WebHost.UseUrls("http://127.0.0.1:5103"); // /metrics and /health/*
builder.AddTalkingFaceTelemetry("talkingface-worker-hair");
builder.AddArtifactStore();
builder.AddWorkerDefaults();
builder.AddHairStage();
builder.AddTalkingFaceBus(bus => bus.AddHairStageConsumer(builder.Configuration).AddProbeStageConsumer(builder.Configuration));

var app = builder.Build();
app.MapOperationalEndpoints();
app.Run();

/// <summary>Internal: only the gateway's entry point is visible to the integration tests.</summary>
internal partial class Program;
