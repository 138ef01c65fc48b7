using Cai.ServiceDefaults;
using Cai.Services.Labeling;
using Cai.Services.Labeling.Grpc;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.ConfigureCaiEndpoints(defaultGrpcPort: 5140);
builder.AddCaiRedis();
builder.Services.AddCaiGrpc();
builder.AddLabeling();

var app = builder.Build();
app.MapGrpcService<LabelingService>();
app.MapDefaultEndpoints();
app.Run();
