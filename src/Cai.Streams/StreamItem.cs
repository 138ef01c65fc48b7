namespace Cai.Streams;

/// <summary>One delivery of an item to a stream worker's handler.</summary>
/// <param name="ItemId">The item id given by the producer.</param>
/// <param name="Value">The deserialised item.</param>
/// <param name="EntryId">The stream entry id.</param>
/// <param name="DeliveryCount">1 on the first delivery; higher after retries and reclaims.</param>
public sealed record StreamItem<T>(string ItemId, T Value, string EntryId, long DeliveryCount);

/// <summary>
/// Handles one item. Returning acknowledges the entry; throwing leaves it pending for a retry
/// (after the claim idle timeout) until <see cref="StreamWorkerOptions.MaxDeliveries"/>, then it
/// is dead-lettered. Handlers must be idempotent: delivery is at least once.
/// </summary>
public delegate Task StreamHandler<T>(StreamItem<T> item, CancellationToken cancellationToken);
