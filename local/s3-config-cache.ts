// Keeps s3rver's bucket configuration (CORS, website) in memory instead of re-reading it from disk on every request.
/** The part of s3rver's store that reads and writes bucket and object configuration (CORS, website, tagging). */
export interface BucketConfigStore {
  getSubresource(bucket: string, key: string | undefined, type: string): Promise<unknown>;
  putSubresource(bucket: string, key: string | undefined, resource: unknown): Promise<unknown>;
  deleteSubresource(bucket: string, key: string | undefined, type: string): Promise<unknown>;
  getBucket(bucket: string): Promise<unknown>;
  putBucket(bucket: string): Promise<unknown>;
  deleteBucket(bucket: string): Promise<unknown>;
  reset(): unknown;
}

/**
 * s3rver's CORS and website middleware read the bucket's cors.xml and website.xml from disk on
 * every request (two failed opens when, as here, no bucket has either): a third of the S3
 * process's CPU in a 1000-image lot. The bucket's configuration is kept in memory once read;
 * every store call that can change it (put/delete of a configuration, of a bucket, reset) empties
 * the cache first, so a request still sees what the last write left. Object-level configuration
 * (tagging) is read from disk as before. The same holds for the bucket itself, which s3rver
 * stat()s on every request to answer NoSuchBucket.
 */
export function cacheBucketConfig(store: BucketConfigStore): void {
  const cache = new Map<string, Promise<unknown>>();
  const read = store.getSubresource.bind(store);
  store.getSubresource = (bucket, key, type) => {
    if (key !== undefined) return read(bucket, key, type);
    const id = `${bucket}\n${type}`;
    let config = cache.get(id);
    if (!config) {
      config = read(bucket, key, type);
      cache.set(id, config);
      // A failed read is not remembered.
      config.catch(() => cache.delete(id));
    }
    return config;
  };
  const readBucket = store.getBucket.bind(store);
  store.getBucket = (bucket) => {
    const id = `${bucket}\nbucket`;
    let found = cache.get(id);
    if (!found) {
      found = readBucket(bucket);
      cache.set(id, found);
      found.catch(() => cache.delete(id));
    }
    return found;
  };
  for (const change of [
    "putSubresource",
    "deleteSubresource",
    "putBucket",
    "deleteBucket",
    "reset",
  ] as const) {
    const original = (store[change] as (...args: unknown[]) => unknown).bind(store);
    (store[change] as (...args: unknown[]) => unknown) = (...args: unknown[]) => {
      cache.clear();
      const result = original(...args);
      // Cleared again once written, so a read that raced the write is not kept.
      if (result instanceof Promise) return result.finally(() => cache.clear());
      cache.clear();
      return result;
    };
  }
}
