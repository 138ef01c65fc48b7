using Cai.ServiceDefaults;
using Cai.Services.PreferenceModel;
using Cai.Services.PreferenceModel.Grpc;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.ConfigureCaiEndpoints(defaultGrpcPort: 5150);
builder.AddCaiRedis();
builder.Services.AddCaiGrpc();
builder.AddPreferenceModel();

var app = builder.Build();
app.MapGrpcService<PreferenceModelService>();
app.MapDefaultEndpoints();
app.Run();
