// Module resolution hook for the Node CPU benchmark (registered by bench/cpu.js): loads the
// shipped js/actions.js unchanged, but gives it the Node flavour of the same wasm Action
// (build/node/index.js) instead of the workerd one (build/index.js, which uses `import source`).

const WORKERD_BUILD = new URL("../../build/index.js", import.meta.url).href;
const NODE_BUILD = new URL("../../build/node/index.js", import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  return resolved.url === WORKERD_BUILD ? { ...resolved, url: NODE_BUILD } : resolved;
}
