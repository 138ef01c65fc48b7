using Cai.Protos.V1;
using Cai.ServiceDefaults;
using Cai.ServiceDefaults.Grpc;
using Grpc.Core;

namespace Cai.Services.Ppo.Grpc;

/// <summary>
/// The ppo service. RPCs not overridden here answer UNIMPLEMENTED (the generated base class does
/// that), and Info reports which are live.
/// </summary>
public sealed class PpoService(RedisConnection redis) : Cai.Protos.V1.Ppo.PpoBase
{
    public override Task<ServiceInfo> Info(InfoRequest request, ServerCallContext context)
    {
        var info = ServiceInfoBuilder.Build("ppo", Cai.Protos.V1.Ppo.Descriptor, GetType());
        info.RedisConnected = redis.IsConnected;
        return Task.FromResult(info);
    }
}
