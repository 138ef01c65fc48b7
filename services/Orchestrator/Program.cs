using Cai.ServiceDefaults;
using Cai.Services.Orchestrator.Grpc;
using Cai.Services.Orchestrator.Runs;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.ConfigureCaiEndpoints(defaultGrpcPort: 5170);
builder.AddCaiRedis();
builder.Services.AddCaiGrpc();
builder.Services.AddSingleton(OrchestratorOptions.FromConfiguration(builder.Configuration, builder.Environment.ContentRootPath));
builder.Services.AddSingleton<RunManager>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<RunManager>());

var app = builder.Build();
app.MapGrpcService<OrchestratorService>();
app.MapDefaultEndpoints();
app.Run();
