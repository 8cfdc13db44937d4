using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Rmt.Cloud;
using Rmt.Pipeline;

namespace Rmt.Functions;

/// <summary>What the functions get from DI: the cloud clients built from the RMT_* settings (identity
/// based in Azure), and the pipeline's activities, created per call as the durable worker does.</summary>
public static class FunctionsServices
{
    public static IServiceCollection AddRmtCloud(IServiceCollection services, Func<string, string?> settings)
    {
        services.AddSingleton(sp => CloudClients.FromSettings(settings, sp.GetRequiredService<ILoggerFactory>()));
        services.AddSingleton(sp => sp.GetRequiredService<CloudClients>().Artifacts);
        services.AddSingleton(sp => sp.GetRequiredService<CloudClients>().Jobs);
        services.AddSingleton(sp => sp.GetRequiredService<CloudClients>().Events);
        services.AddTransient<ValidateRequestActivity>();
        services.AddTransient<DispatchJobActivity>();
        services.AddTransient<DrainEventsActivity>();
        services.AddTransient<WriteCancelMarkerActivity>();
        services.AddTransient<StopAttemptActivity>();
        services.AddTransient<WriteReportActivity>();
        return services;
    }
}
