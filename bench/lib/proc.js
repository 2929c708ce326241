// CPU time of the workerd processes behind one `wrangler dev`, read from /proc (Linux only).
// WorkerProcess starts wrangler detached, so wrangler and everything it spawns share its process
// group. wrangler dev runs two workerd processes: a proxy listening on the port we call, and the
// runtime running the Worker (and the local KV simulator). `runtime` is the latter — the one not
// bound to the Worker's public port; `all` adds the proxy. `wrangler` is wrangler's own Node
// processes (request logging, log forwarding), for context.

import { readdirSync, readFileSync } from "node:fs";
import { execSync } from "node:child_process";

let ticksPerSecond;
function clockTicks() {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execSync("getconf CLK_TCK", { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/**
 * User+system CPU ms of the processes in process group `pgid`:
 * `{ runtime, proxy, all, wrangler }` (null fields when not found), or null off Linux.
 */
export function workerdCpuMs(pgid, port) {
  if (process.platform !== "linux") return null;
  const out = { runtime: null, proxy: null, all: null, wrangler: null };
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    let cmdline;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
    } catch {
      continue;
    }
    const close = stat.lastIndexOf(")");
    const comm = stat.slice(stat.indexOf("(") + 1, close);
    const fields = stat.slice(close + 2).split(" ");
    // fields[0] is field 3 (state): pgrp = field 5, utime = 14, stime = 15.
    if (Number(fields[2]) !== pgid) continue;
    const ms = ((Number(fields[11]) + Number(fields[12])) / clockTicks()) * 1000;
    if (comm === "node") out.wrangler = (out.wrangler ?? 0) + ms;
    if (comm !== "workerd") continue;
    const role = cmdline.includes(`entry=127.0.0.1:${port}`) ? "proxy" : "runtime";
    out[role] = (out[role] ?? 0) + ms;
    out.all = (out.all ?? 0) + ms;
  }
  return out;
}

/** CPU µs per login between two `workerdCpuMs` samples, per role. */
export function cpuPerLogin(before, after, logins) {
  const per = (role) =>
    before?.[role] != null && after?.[role] != null && logins
      ? ((after[role] - before[role]) * 1000) / logins
      : null;
  return { runtime: per("runtime"), proxy: per("proxy"), all: per("all"), wrangler: per("wrangler") };
}
