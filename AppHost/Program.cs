using Cai.AppHost;

// The CAI pipeline as a wiring diagram: Redis first, then each service in pipeline order.
try
{
    var builder = DistributedApplication.CreateBuilder(args);
    var cai = CaiHostOptions.Load(builder.Configuration, builder.AppHostDirectory);

    var redis = builder.AddCaiRedis(cai);

    var generation = builder.AddCaiService<Projects.Cai_Services_Generation>("generation", cai)
        .WithReference(redis).WaitFor(redis);

    var critique = builder.AddCaiService<Projects.Cai_Services_Critique>("critique", cai)
        .WithReference(redis).WaitFor(redis).WithReference(generation);

    var sft = builder.AddCaiService<Projects.Cai_Services_Sft>("sft", cai)
        .WithReference(redis).WaitFor(redis);

    var labeling = builder.AddCaiService<Projects.Cai_Services_Labeling>("labeling", cai)
        .WithReference(redis).WaitFor(redis).WithReference(generation);

    var preferenceModel = builder.AddCaiService<Projects.Cai_Services_PreferenceModel>("preference-model", cai)
        .WithReference(redis).WaitFor(redis);

    var ppo = builder.AddCaiService<Projects.Cai_Services_Ppo>("ppo", cai)
        .WithReference(redis).WaitFor(redis).WithReference(preferenceModel);

    builder.AddCaiService<Projects.Cai_Services_Orchestrator>("orchestrator", cai)
        .WithReference(redis).WaitFor(redis)
        .WithReference(generation).WithReference(critique).WithReference(sft)
        .WithReference(labeling).WithReference(preferenceModel).WithReference(ppo);

    builder.Build().Run();
    return 0;
}
catch (HostConfigurationException ex)
{
    Console.Error.WriteLine($"CAI AppHost cannot start. {ex.Message}");
    return 2;
}
