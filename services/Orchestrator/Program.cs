using Cai.ServiceDefaults;
using Cai.Services.Orchestrator.Grpc;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.ConfigureCaiEndpoints(defaultGrpcPort: 5170);
builder.AddCaiRedis();
builder.Services.AddCaiGrpc();

var app = builder.Build();
app.MapGrpcService<OrchestratorService>();
app.MapDefaultEndpoints();
app.Run();
