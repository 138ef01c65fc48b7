using Cai.ServiceDefaults;
using Cai.Services.Ppo;
using Cai.Services.Ppo.Grpc;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.ConfigureCaiEndpoints(defaultGrpcPort: 5160);
builder.AddCaiRedis();
builder.Services.AddCaiGrpc();
builder.AddPpo();

var app = builder.Build();
app.MapGrpcService<PpoService>();
app.MapDefaultEndpoints();
app.Run();
