using Cai.ServiceDefaults;
using Cai.Services.Generation;
using Cai.Services.Generation.Grpc;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.ConfigureCaiEndpoints(defaultGrpcPort: 5110);
builder.AddCaiRedis();
builder.Services.AddCaiGrpc();
builder.AddGeneration();

var app = builder.Build();
app.MapGrpcService<GenerationService>();
app.MapDefaultEndpoints();
app.Run();
