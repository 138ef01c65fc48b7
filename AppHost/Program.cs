using Cai.AppHost;

// The CAI pipeline as a wiring diagram: Redis first, then each service in pipeline order.
try
{
    var builder = DistributedApplication.CreateBuilder(args);
    var cai = CaiHostOptions.Load(builder.Configuration, builder.AppHostDirectory);
    if (cai.Containers.Enabled) return ContainerMode.Run(builder, cai); // Cai:Mode=containers: see ContainerMode.cs

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

    // The orchestrator runs the main job (MainRun.cs) once every stage service is up.
    var mainRun = builder.AddMainRun(cai);
    builder.AddCaiService<Projects.Cai_Services_Orchestrator>("orchestrator", cai)
        .WithReference(redis).WaitFor(redis)
        .WithReference(generation).WithReference(critique).WithReference(sft)
        .WithReference(labeling).WithReference(preferenceModel).WithReference(ppo)
        .WaitFor(generation).WaitFor(critique).WaitFor(sft).WaitFor(labeling).WaitFor(preferenceModel).WaitFor(ppo)
        .WithEnvironment("Cai__Profile", mainRun.Profile)
        .WithEnvironment("Cai__RunId", mainRun.RunId)
        .WithEnvironment("Cai__RepositoryRoot", Path.GetFullPath(Path.Combine(builder.AppHostDirectory, "..")));

    builder.Build().Run();
    return Environment.ExitCode;
}
catch (HostConfigurationException ex)
{
    Console.Error.WriteLine($"CAI AppHost cannot start. {ex.Message}");
    return 2;
}
