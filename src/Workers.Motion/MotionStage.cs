using MassTransit;
using TalkingFace.Contracts;
using TalkingFace.Models;
using TalkingFace.Workers.Motion.AudioToMotion;

namespace TalkingFace.Workers.Motion;

/// <summary>Registration of the motion stage, used by this worker's Program and by the standalone gateway.</summary>
public static class MotionStage
{
    public static IHostApplicationBuilder AddMotionStage(this IHostApplicationBuilder builder)
    {
        builder.AddModelStore();
        builder.Services.AddScoped<IStageRunner<RunMotionStage>, MotionStageRunner>();
        return builder;
    }

    public static IBusRegistrationConfigurator AddMotionStageConsumer(this IBusRegistrationConfigurator bus, IConfiguration configuration) =>
        bus.AddStageConsumer<RunMotionStage>(configuration, Stages.Motion);
}
