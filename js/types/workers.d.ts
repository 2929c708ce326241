// The part of the Cloudflare Workers runtime's types this repository uses, so `npm run typecheck`
// needs no @cloudflare/workers-types. Workers KV: https://developers.cloudflare.com/kv/api/
interface KVNamespace {
  get(key: string, options?: unknown): Promise<string | null>;
  put(key: string, value: string, options?: { expiration?: number; expirationTtl?: number }): Promise<void>;
  delete(key: string): Promise<void>;
}
