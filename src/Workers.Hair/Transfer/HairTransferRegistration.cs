using TalkingFace.Models;

namespace TalkingFace.Workers.Hair.Transfer;

public static class HairTransferRegistration
{
    /// <summary>
    /// The hair transfer chain: <see cref="IHairTransfer"/> (<see cref="OnnxHairTransfer"/>, a singleton) on the model
    /// store, <see cref="HairTransferOptions"/> from the <c>Hair</c> section (<c>Hair:TransferModel</c>, default
    /// <c>hairfast</c>; <c>Hair:NoiseSeed</c>), and a hosted preloader that loads and warms every stage at start
    /// (health check <c>hair-transfer</c>, tag <c>ready</c>). Calling it twice registers once.
    /// </summary>
    public static IHostApplicationBuilder AddHairTransfer(this IHostApplicationBuilder builder)
    {
        if (builder.Services.Any(d => d.ServiceType == typeof(IHairTransfer))) return builder;
        builder.AddModelStore();
        builder.Services.AddOptions<HairTransferOptions>().Bind(builder.Configuration.GetSection(HairTransferOptions.Section));
        builder.Services.AddSingleton<HairChainLoader>();
        builder.Services.AddSingleton<OnnxHairTransfer>();
        builder.Services.AddSingleton<IHairTransfer>(sp => sp.GetRequiredService<OnnxHairTransfer>());
        builder.Services.AddSingleton<HairTransferPreloader>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<HairTransferPreloader>());
        builder.Services.AddHealthChecks().AddCheck<HairTransferPreloader>("hair-transfer", tags: ["ready"]);
        return builder;
    }
}
