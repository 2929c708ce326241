// Structured logs: one JSON object per line through `console`, the same shape the Rust Action
// writes. Callers pass fields explicitly; nothing here ever receives a secret or a token.

const sinks = { info: console.log, warn: console.warn, error: console.error };

/** A logger whose records carry `component`. */
export function createLogger(component) {
  return (level, event, fields = {}) => {
    const sink = sinks[level] ?? console.log;
    sink.call(console, JSON.stringify({ level, event, component, ...fields }));
  };
}

/** An error as `Name: message` for a log field (never the whole object, which may hold a request). */
export function describeError(error) {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
