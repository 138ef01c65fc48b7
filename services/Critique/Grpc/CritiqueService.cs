using Cai.Protos.V1;
using Cai.ServiceDefaults;
using Cai.ServiceDefaults.Grpc;
using Grpc.Core;

namespace Cai.Services.Critique.Grpc;

/// <summary>
/// The critique service. RPCs not overridden here answer UNIMPLEMENTED (the generated base class does
/// that), and Info reports which are live.
/// </summary>
public sealed class CritiqueService(RedisConnection redis) : Cai.Protos.V1.Critique.CritiqueBase
{
    public override Task<ServiceInfo> Info(InfoRequest request, ServerCallContext context)
    {
        var info = ServiceInfoBuilder.Build("critique", Cai.Protos.V1.Critique.Descriptor, GetType());
        info.RedisConnected = redis.IsConnected;
        return Task.FromResult(info);
    }
}
