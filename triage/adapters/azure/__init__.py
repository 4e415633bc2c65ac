"""Azure adapters: Blob Storage, Queue Storage, Cosmos DB, Azure ML and Azure Monitor."""
