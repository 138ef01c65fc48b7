using Cai.Protos.V1;
using Cai.ServiceDefaults;
using Cai.ServiceDefaults.Grpc;
using Grpc.Core;

namespace Cai.Services.Sft.Grpc;

/// <summary>
/// The sft service. RPCs not overridden here answer UNIMPLEMENTED (the generated base class does
/// that), and Info reports which are live.
/// </summary>
public sealed class SftService(RedisConnection redis) : Cai.Protos.V1.Sft.SftBase
{
    public override Task<ServiceInfo> Info(InfoRequest request, ServerCallContext context)
    {
        var info = ServiceInfoBuilder.Build("sft", Cai.Protos.V1.Sft.Descriptor, GetType());
        info.RedisConnected = redis.IsConnected;
        return Task.FromResult(info);
    }
}
