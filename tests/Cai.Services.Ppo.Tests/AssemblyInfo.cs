// One test at a time: the cores are shared, and the service under test trains models.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
