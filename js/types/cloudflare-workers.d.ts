// The part of workerd's "cloudflare:workers" module this repository uses (the typecheck has no
// @cloudflare/workers-types): the Durable Object base class of js/cache-writer-object.js.
declare module "cloudflare:workers" {
  export class DurableObject<Env = unknown> {
    constructor(ctx: any, env: Env);
    ctx: any;
    env: Env;
  }
}
