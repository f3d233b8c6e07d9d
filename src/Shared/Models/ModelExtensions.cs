using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace TalkingFace.Models;

public static class ModelExtensions
{
    public static IHostApplicationBuilder AddModelStore(this IHostApplicationBuilder builder)
    {
        if (builder.Services.Any(d => d.ServiceType == typeof(ModelRegistry))) return builder; // several stages in one process share one store
        builder.Services.AddOptions<ModelStoreOptions>().Bind(builder.Configuration.GetSection(ModelStoreOptions.Section));
        builder.Services.AddSingleton<ModelCatalog>();
        builder.Services.AddOptions<InferenceOptions>().Bind(builder.Configuration.GetSection(InferenceOptions.Section));
        builder.Services.AddSingleton<OnnxSessionFactory>();
        builder.Services.AddSingleton<ModelRegistry>();
        return builder;
    }
}
