using Cai.ServiceDefaults;
using Cai.Services.Sft;
using Cai.Services.Sft.Grpc;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.ConfigureCaiEndpoints(defaultGrpcPort: 5130);
builder.AddCaiRedis();
builder.Services.AddCaiGrpc();
builder.AddSft();

var app = builder.Build();
app.MapGrpcService<SftService>();
app.MapDefaultEndpoints();
app.Run();
