// One test at a time: the throughput test times the service, and two cores are shared with it.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
