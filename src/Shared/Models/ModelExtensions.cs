using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace TalkingFace.Models;

public static class ModelExtensions
{
    public static IHostApplicationBuilder AddModelStore(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ModelStoreOptions>().Bind(builder.Configuration.GetSection(ModelStoreOptions.Section));
        builder.Services.AddSingleton<ModelCatalog>();
        return builder;
    }
}
