using Cai.Protos.V1;
using Google.Protobuf.Reflection;
using System.Diagnostics;
using System.Reflection;

namespace Cai.ServiceDefaults.Grpc;

/// <summary>
/// Builds the Info answer of a service from facts: which RPCs its implementation really overrides
/// (the rest answer UNIMPLEMENTED from the generated base class), version, host, uptime.
/// </summary>
public static class ServiceInfoBuilder
{
    private static readonly DateTime StartedUtc = Process.GetCurrentProcess().StartTime.ToUniversalTime();

    public static ServiceInfo Build(string serviceName, ServiceDescriptor descriptor, Type implementation)
    {
        var info = new ServiceInfo
        {
            Service = serviceName,
            Version = implementation.Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
                      ?? implementation.Assembly.GetName().Version?.ToString() ?? "",
            Host = Environment.MachineName,
            ProcessId = Environment.ProcessId,
            UptimeSeconds = (DateTime.UtcNow - StartedUtc).TotalSeconds,
        };
        foreach (var method in descriptor.Methods)
        {
            var clr = implementation.GetMethod(method.Name, BindingFlags.Public | BindingFlags.Instance);
            bool live = clr is not null && clr.DeclaringType == implementation;
            (live ? info.LiveRpcs : info.UnimplementedRpcs).Add(method.Name);
        }
        return info;
    }
}
