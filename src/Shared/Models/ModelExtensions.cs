using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace TalkingFace.Models;

public static class ModelExtensions
{
    public static IHostApplicationBuilder AddModelStore(this IHostApplicationBuilder builder)
    {
        if (builder.Services.Any(d => d.ServiceType == typeof(ModelRegistry))) return builder; // several stages in one process share one store
        builder.Services.AddOptions<ModelStoreOptions>().Bind(builder.Configuration.GetSection(ModelStoreOptions.Section));
        builder.Services.AddSingleton<ModelCatalog>();
        builder.Services.AddOptions<InferenceOptions>().Bind(builder.Configuration.GetSection(InferenceOptions.Section))
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<InferenceOptions>, InferenceOptionsValidator>();
        builder.Services.AddSingleton<OnnxSessionFactory>();
        builder.Services.AddSingleton<ModelRegistry>();
        return builder;
    }
}

/// <summary>Fails start with every problem of the <c>Inference</c> section named (see <see cref="InferenceOptions.Problems"/>).</summary>
internal sealed class InferenceOptionsValidator : IValidateOptions<InferenceOptions>
{
    public ValidateOptionsResult Validate(string? name, InferenceOptions options) =>
        options.Problems().ToList() is { Count: > 0 } problems ? ValidateOptionsResult.Fail(problems) : ValidateOptionsResult.Success;
}
