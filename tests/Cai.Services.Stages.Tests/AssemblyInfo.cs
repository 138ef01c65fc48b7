// One test at a time: two cores are shared, and the services under test train and sample models.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
