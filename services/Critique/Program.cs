using Cai.ServiceDefaults;
using Cai.Services.Critique;
using Cai.Services.Critique.Grpc;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.ConfigureCaiEndpoints(defaultGrpcPort: 5120);
builder.AddCaiRedis();
builder.Services.AddCaiGrpc();
builder.AddCritique();

var app = builder.Build();
app.MapGrpcService<CritiqueService>();
app.MapDefaultEndpoints();
app.Run();
