using Cai.Protos.V1;
using Cai.ServiceDefaults;
using Cai.ServiceDefaults.Grpc;
using Grpc.Core;

namespace Cai.Services.PreferenceModel.Grpc;

/// <summary>
/// The preference-model service. RPCs not overridden here answer UNIMPLEMENTED (the generated base class does
/// that), and Info reports which are live.
/// </summary>
public sealed class PreferenceModelService(RedisConnection redis) : Cai.Protos.V1.PreferenceModel.PreferenceModelBase
{
    public override Task<ServiceInfo> Info(InfoRequest request, ServerCallContext context)
    {
        var info = ServiceInfoBuilder.Build("preference-model", Cai.Protos.V1.PreferenceModel.Descriptor, GetType());
        info.RedisConnected = redis.IsConnected;
        return Task.FromResult(info);
    }
}
