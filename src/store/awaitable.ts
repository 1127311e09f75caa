/**
 * What a store write returns: the SQLite stores answer at once, the ones on the Kubernetes API
 * answer later. The platform awaits either.
 */
export type Awaitable<T> = T | Promise<T>;
