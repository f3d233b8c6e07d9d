using Microsoft.Extensions.DependencyInjection.Extensions;
using MassTransit;
using TalkingFace.Contracts;
using TalkingFace.Models;
using TalkingFace.Workers.Hair.Detection;
using TalkingFace.Workers.Hair.Transfer;

namespace TalkingFace.Workers.Hair;

/// <summary>Registration of the hair stage, used by this worker's Program and by the standalone gateway.</summary>
public static class HairStage
{
    public static IHostApplicationBuilder AddHairStage(this IHostApplicationBuilder builder)
    {
        builder.AddModelStore();
        builder.Services.AddOptions<FaceDetectionOptions>().Bind(builder.Configuration.GetSection(FaceDetectionOptions.Section));
        builder.Services.TryAddSingleton<Imaging.OpenCvNative>(); // checked on first use, never at registration
        builder.Services.AddSingleton<FaceDetectors>();
        builder.Services.AddSingleton<FaceDetectorPreloader>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<FaceDetectorPreloader>());
        builder.Services.AddHealthChecks().AddCheck<FaceDetectorPreloader>("face-detection", tags: ["ready"]);
        builder.AddHairTransfer();
        builder.Services.AddScoped<IStageRunner<RunHairStage>, HairStageRunner>();
        return builder;
    }

    public static IBusRegistrationConfigurator AddHairStageConsumer(this IBusRegistrationConfigurator bus, IConfiguration configuration) =>
        bus.AddStageConsumer<RunHairStage>(configuration, Stages.Hair);
}
