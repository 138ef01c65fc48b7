namespace Cai.AppHost;

/// <summary>One replica of a service and the GPUs it sees.</summary>
public sealed record ReplicaPlacement(string ResourceName, int Replica, IReadOnlyList<int> Gpus)
{
    /// <summary>The value of CUDA_VISIBLE_DEVICES for this replica ("" when unpinned).</summary>
    public string CudaVisibleDevices => string.Join(',', Gpus);
}

/// <summary>
/// Turns "N replicas over these GPU ids" into one placement per replica. GPUs are split into equal
/// contiguous groups when there are at least as many GPUs as replicas (2 replicas over 0,1,2,3 ->
/// "0,1" and "2,3"); otherwise replicas share GPUs round-robin (3 replicas over 0,1 -> 0, 1, 0).
/// Pinned replicas become separate resources (name, name-1, ...), because each needs its own environment.
/// </summary>
public static class GpuPinning
{
    public static IReadOnlyList<ReplicaPlacement> Plan(string service, int replicas, IReadOnlyList<int> gpus)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(replicas, 1);
        if (gpus.Count == 0)
            return [new ReplicaPlacement(service, 0, [])];
        var placements = new List<ReplicaPlacement>(replicas);
        int perReplica = Math.Max(1, gpus.Count / replicas);
        for (int r = 0; r < replicas; r++)
        {
            IReadOnlyList<int> mine = gpus.Count >= replicas
                ? gpus.Skip(r * perReplica).Take(perReplica).ToArray()
                : [gpus[r % gpus.Count]];
            placements.Add(new ReplicaPlacement(r == 0 ? service : $"{service}-{r}", r, mine));
        }
        return placements;
    }
}
