// Token requests over time, from the simulator's request log (`sim.requests`: arrival time,
// parsed body, status): one client's requests, their count per time window, and the logins that
// completed when no token issued to that client was still live. Used by the lifetimes scenario
// (bench/run.js) and the fleet scenarios (lib/fleet.js).

/** The token requests the simulator received from `clientId` since its last reset. */
export function requestsOf(sim, clientId) {
  return sim.requests.filter((r) => r.body?.client_id === clientId);
}

/** { ok, failed }: requests answered 200, and the others (an error status or no answer). */
export function countRequests(requests) {
  const ok = requests.filter((r) => r.status === 200).length;
  return { ok, failed: requests.length - ok };
}

/**
 * How many of `requests` arrived in each window of `windowMs` from `startedAt`; `windows` windows
 * (at least one). Requests before the first window count in it, requests after the last (still
 * in flight when the load stopped) in the last.
 */
export function perWindow(requests, startedAt, windowMs, windows) {
  const counts = Array.from({ length: Math.max(1, windows) }, () => 0);
  for (const r of requests) {
    const k = Math.min(counts.length - 1, Math.max(0, Math.floor((r.at - startedAt) / windowMs)));
    counts[k]++;
  }
  return counts;
}

/**
 * Logins (`responseTimes`: [completion time ms since epoch, latency ms]) that completed when no
 * token issued by one of `requests` was younger than `lifetimeMs`: the variant can only have had
 * an expired token, or none.
 */
export function loginsWithoutLiveToken(responseTimes, requests, lifetimeMs) {
  const issued = requests
    .filter((r) => r.status === 200)
    .map((r) => r.at)
    .sort((a, b) => a - b);
  let uncovered = 0;
  for (const [at] of responseTimes) {
    let lo = 0;
    let hi = issued.length - 1;
    let last = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (issued[mid] <= at) {
        last = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (last === -1 || at - issued[last] >= lifetimeMs) uncovered++;
  }
  return uncovered;
}
