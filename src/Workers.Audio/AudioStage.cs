using MassTransit;
using TalkingFace.Contracts;
using TalkingFace.Models;
using TalkingFace.Workers.Audio.Conversion;
using TalkingFace.Workers.Audio.Features;

namespace TalkingFace.Workers.Audio;

/// <summary>Registration of the audio stage, used by this worker's Program and by the standalone gateway.</summary>
public static class AudioStage
{
    public static IHostApplicationBuilder AddAudioStage(this IHostApplicationBuilder builder)
    {
        builder.AddModelStore();
        builder.Services.AddOptions<AudioConversionOptions>().Bind(builder.Configuration.GetSection(AudioConversionOptions.SectionName));
        builder.Services.AddSingleton<AudioConverter>();
        builder.Services.AddOptions<FeatureExtractionOptions>().Bind(builder.Configuration.GetSection(FeatureExtractionOptions.Section));
        builder.Services.AddSingleton<FeatureExtractor>();
        builder.Services.AddSingleton<FeatureModelPreloader>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<FeatureModelPreloader>());
        builder.Services.AddHealthChecks().AddCheck<FeatureModelPreloader>("feature-models", tags: ["ready"]);
        builder.Services.AddScoped<IStageRunner<RunAudioStage>, AudioStageRunner>();
        return builder;
    }

    public static IBusRegistrationConfigurator AddAudioStageConsumer(this IBusRegistrationConfigurator bus, IConfiguration configuration) =>
        bus.AddStageConsumer<RunAudioStage>(configuration, Stages.Audio);
}
