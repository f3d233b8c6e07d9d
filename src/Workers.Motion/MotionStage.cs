using MassTransit;
using TalkingFace.Contracts;
using TalkingFace.Models;
using TalkingFace.Workers.Motion.AudioToMotion;
using TalkingFace.Workers.Motion.Preview;

namespace TalkingFace.Workers.Motion;

/// <summary>Registration of the motion stage, used by this worker's Program and by the standalone gateway.</summary>
public static class MotionStage
{
    public static IHostApplicationBuilder AddMotionStage(this IHostApplicationBuilder builder)
    {
        builder.AddModelStore();
        builder.Services.AddOptions<MotionInferenceOptions>().Bind(builder.Configuration.GetSection(MotionInferenceOptions.Section));
        builder.Services.AddOptions<PreviewOptions>().Bind(builder.Configuration.GetSection(PreviewOptions.Section));
        builder.Services.AddSingleton<MotionModels>();
        builder.Services.AddSingleton<MotionInference>();
        builder.Services.AddSingleton<PreviewRenderer>();
        builder.Services.AddSingleton<MotionModelPreloader>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<MotionModelPreloader>());
        builder.Services.AddHealthChecks().AddCheck<MotionModelPreloader>("motion-models", tags: ["ready"]);
        builder.Services.AddScoped<IStageRunner<RunMotionStage>, MotionStageRunner>();
        return builder;
    }

    public static IBusRegistrationConfigurator AddMotionStageConsumer(this IBusRegistrationConfigurator bus, IConfiguration configuration) =>
        bus.AddStageConsumer<RunMotionStage>(configuration, Stages.Motion);
}
