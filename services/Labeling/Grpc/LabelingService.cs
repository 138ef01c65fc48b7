using Cai.Protos.V1;
using Cai.ServiceDefaults;
using Cai.ServiceDefaults.Grpc;
using Grpc.Core;

namespace Cai.Services.Labeling.Grpc;

/// <summary>
/// The labeling service. RPCs not overridden here answer UNIMPLEMENTED (the generated base class does
/// that), and Info reports which are live.
/// </summary>
public sealed class LabelingService(RedisConnection redis) : Cai.Protos.V1.Labeling.LabelingBase
{
    public override Task<ServiceInfo> Info(InfoRequest request, ServerCallContext context)
    {
        var info = ServiceInfoBuilder.Build("labeling", Cai.Protos.V1.Labeling.Descriptor, GetType());
        info.RedisConnected = redis.IsConnected;
        return Task.FromResult(info);
    }
}
