import { readFileSync } from "node:fs";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { ManualClock } from "../helpers/manual-clock.js";
import { eventually, startTestRunlet, type TestRunlet } from "../helpers/runlet.js";

interface Status {
  replicas: number;
  availableReplicas: number;
  instances: {
    coldStarts: number;
    coldStartsFromPool: number;
    lastExit?: string;
    lastDecision?: { desired: number; reason: string };
    crashLoop?: { crashes: number; retryAt: string };
  }[];
}

const status = async (runlet: TestRunlet, name: string): Promise<Status> =>
  (await (await runlet.api(`/api/v1/functions/${name}`)).json()) as Status;

/** A real HTTP server that holds every request until release(), then answers "released". */
async function holdingServer(): Promise<{ url: string; held(): number; release(): void }> {
  const waiting: ServerResponse[] = [];
  let released = false;
  let held = 0;
  const server = createServer((_request, response) => {
    if (released) {
      response.end("released");
    } else {
      held += 1;
      waiting.push(response);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  onTestFinished(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    held: () => held,
    release() {
      released = true;
      for (const response of waiting.splice(0)) {
        response.end("released");
      }
    },
  };
}

const isolation = (runlet: TestRunlet) => runlet.platform.provider.isolation;

describe("isolation of instances", () => {
  it("runs sandboxed with cgroup limits on this host (the suite installs bubblewrap)", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    // A host that cannot sandbox must fail this suite loudly rather than skip the tests below.
    expect(isolation(runlet)).toMatch(
      /^bubblewrap sandbox as unprivileged uids, filtered outbound network, cgroup v[12] limits$/,
    );
  });

  it("kills a function over its memory limit and says so to the caller, describe and logs", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const hog = `const kept = [];
    export default async (event) => {
      if (event.query.hog) { for (;;) { kept.push(Buffer.alloc(8 * 1024 * 1024, 1)); await new Promise((r) => setImmediate(r)); } }
      return "small";
    };`;
    expect((await runlet.deploy("hog", { "index.js": hog }, { memory: "96Mi" })).status).toBe(201);
    const killed = await fetch(`${runlet.url}/function/hog?hog=1`);
    expect(killed.status).toBe(502);
    expect(((await killed.json()) as { error: { message: string } }).error.message).toContain(
      "exceeded memory limit 96Mi",
    );
    expect((await status(runlet, "hog")).instances[0]?.lastExit).toContain(
      "exceeded memory limit 96Mi",
    );
    const logs = await (await runlet.api("/api/v1/functions/hog/logs")).text();
    expect(logs).toContain("exceeded memory limit 96Mi");
    // A new instance serves the next call.
    expect(await (await fetch(`${runlet.url}/function/hog`)).text()).toBe("small");
  });

  it("keeps a fork bomb inside the pids limit while the host and other functions keep serving", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const bomb = `import { spawn } from "node:child_process";
    export default async () => {
      let started = 0, refused = 0;
      for (let i = 0; i < 400; i += 1) {
        try {
          const child = spawn("sleep", ["30"], { stdio: "ignore" });
          await new Promise((resolve) => { child.once("spawn", () => { started += 1; resolve(); }); child.once("error", () => { refused += 1; resolve(); }); });
        } catch { refused += 1; }
      }
      return { started, refused };
    };`;
    await runlet.deploy("bomb", { "index.js": bomb }, { timeout: "20s" });
    await runlet.deploy("bystander", { "index.js": `export default async () => "still fine"` });
    const result = (await (await fetch(`${runlet.url}/function/bomb`)).json()) as {
      started: number;
      refused: number;
    };
    expect(result.started).toBeLessThan(256);
    expect(result.refused).toBeGreaterThan(0);
    expect(await (await fetch(`${runlet.url}/function/bystander`)).text()).toBe("still fine");
    expect((await fetch(`${runlet.url}/healthz`)).status).toBe(200);
  });

  it("does not let a function read the data dir, another function's code, or a secret it was not given", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    await runlet.api("/api/v1/secrets/granted", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ value: "ok-to-read" }),
    });
    await runlet.api("/api/v1/secrets/private", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ value: "top-secret" }),
    });
    await runlet.deploy(
      "victim",
      { "index.js": `export default async () => "victim code SENTINEL"` },
      { secrets: ["private"] },
    );
    const probe = `import { readFileSync, readdirSync } from "node:fs";
    const attempt = (fn) => { try { return String(fn()); } catch (error) { return "denied: " + error.code; } };
    export default async (event) => ({
      dataDir: attempt(() => readFileSync(event.query.dataDir + "/admin-token", "utf8")),
      database: attempt(() => readFileSync(event.query.dataDir + "/runlet.db")),
      otherCode: attempt(() => readFileSync(event.query.victim + "/index.js", "utf8")),
      packages: attempt(() => readdirSync(event.query.dataDir + "/packages")),
      secrets: attempt(() => readdirSync("/var/openfaas/secrets").join(",")),
      granted: attempt(() => readFileSync("/var/openfaas/secrets/granted", "utf8")),
      processes: readdirSync("/proc").filter((p) => /^\\d+$/.test(p)).length,
    });`;
    await runlet.deploy("probe", { "index.js": probe }, { secrets: ["granted"] });
    const victim = runlet.platform.get("victim");
    const victimTree = runlet.platform.packages.treePath(victim.packageDigest);
    expect(readFileSync(join(victimTree, "index.js"), "utf8")).toContain("SENTINEL");
    const query = new URLSearchParams({ dataDir: runlet.dataDir, victim: victimTree });
    const seen = (await (await fetch(`${runlet.url}/function/probe?${query}`)).json()) as Record<
      string,
      string | number
    >;
    expect(seen["dataDir"]).toBe("denied: ENOENT");
    expect(seen["database"]).toBe("denied: ENOENT");
    expect(seen["otherCode"]).toBe("denied: ENOENT");
    expect(seen["packages"]).toBe("denied: ENOENT");
    expect(seen["secrets"]).toBe("granted");
    expect(seen["granted"]).toBe("ok-to-read");
    // Its own pid namespace: only the sandbox's few processes are visible.
    expect(seen["processes"]).toBeLessThan(5);
  });

  it("mounts the function's own code read-only", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const writer = `import { writeFileSync } from "node:fs";
    export default async () => { try { writeFileSync(process.cwd() + "/index.js", "hacked"); return "wrote"; } catch (error) { return "denied: " + error.code; } };`;
    await runlet.deploy("writer", { "index.js": writer });
    expect(await (await fetch(`${runlet.url}/function/writer`)).text()).toBe("denied: EROFS");
  });
});

describe("warm pool and scaling", () => {
  it("specializes instances from the warm pool, and spawns without one", async () => {
    const warm = await startTestRunlet({ poolSize: 1 });
    await eventually(
      () => (warm.platform.executor.poolStatus()[0]?.idle === 1 ? true : undefined),
      { what: "the pool to fill" },
    );
    await warm.deploy("pooled", { "index.js": `export default async () => "ok"` });
    expect((await status(warm, "pooled")).instances[0]).toMatchObject({
      coldStarts: 1,
      coldStartsFromPool: 1,
    });
    // The pool refills in the background.
    await eventually(
      () => (warm.platform.executor.poolStatus()[0]?.idle === 1 ? true : undefined),
      { what: "the pool to refill" },
    );
    const metrics = await (await fetch(`${warm.url}/metrics`)).text();
    expect(metrics).toMatch(
      /runlet_cold_start_seconds_count\{function_name="pooled",source="pool"\} 1/,
    );
    expect(metrics).toContain('runlet_warm_pool_idle{runtime="node"} 1');

    const cold = await startTestRunlet({ poolSize: 0 });
    await cold.deploy("spawned", { "index.js": `export default async () => "ok"` });
    expect((await status(cold, "spawned")).instances[0]).toMatchObject({
      coldStarts: 1,
      coldStartsFromPool: 0,
    });
    expect(cold.platform.executor.poolStatus()[0]?.idle).toBe(0);
  });

  it("answers a burst of 200 concurrent calls to a cold function without 5xx and within max", async () => {
    const clock = new ManualClock();
    const runlet = await startTestRunlet({ poolSize: 2, clock });
    const slow = `export default async () => { await new Promise((r) => setTimeout(r, 50)); return "ok"; }`;
    await runlet.deploy(
      "burst",
      { "index.js": slow },
      { scale: { max: 4, concurrency: 10 }, timeout: "30s" },
    );
    // The default idle timeout (5 minutes) scales it to zero, so the burst meets a cold function.
    await clock.advance(300_000 + 1000);
    expect((await status(runlet, "burst")).availableReplicas).toBe(0);
    const responses = await Promise.all(
      Array.from({ length: 200 }, () =>
        fetch(`${runlet.url}/function/burst`).then(async (r) => ({
          status: r.status,
          body: await r.text(),
        })),
      ),
    );
    expect(responses.filter((r) => r.status !== 200)).toEqual([]);
    expect(responses.every((r) => r.body === "ok")).toBe(true);
    const after = await status(runlet, "burst");
    expect(after.instances[0]?.coldStarts).toBeLessThanOrEqual(1 + 4);
    expect(after.replicas).toBeLessThanOrEqual(4);
  });

  it("scales up under load, holds for the stable window after a burst, then to one, and to zero after the idle timeout", async () => {
    const clock = new ManualClock();
    const runlet = await startTestRunlet({ poolSize: 0, clock });
    const gate = await holdingServer();
    // Default window (60 s), idle timeout (5 min) and autoscaler tick (1 s).
    await runlet.deploy(
      "elastic",
      { "index.js": `export default async (event) => (await fetch(event.query.gate)).text();` },
      { scale: { max: 3, concurrency: 2 }, network: "host" },
    );
    const query = new URLSearchParams({ gate: gate.url });
    const calls = Array.from({ length: 12 }, () =>
      fetch(`${runlet.url}/function/elastic?${query}`).then((r) => r.text()),
    );
    // 6 calls held on 3 instances (max × concurrency), 6 waiting for a slot.
    await eventually(
      () =>
        gate.held() === 6 && runlet.platform.executor.status("elastic")[0]?.queued === 6
          ? true
          : undefined,
      { what: "six calls held and six waiting" },
    );
    const loaded = runlet.platform.executor.status("elastic")[0];
    expect(loaded).toMatchObject({ replicas: 3, ready: 3, inFlight: 6, queued: 6, coldStarts: 3 });
    // Five ticks under load: twice the capacity in demand is a burst (panic mode).
    await clock.advance(5000);
    expect((await status(runlet, "elastic")).instances[0]?.lastDecision).toMatchObject({
      desired: 3,
      reason: expect.stringContaining("panic") as unknown,
    });
    gate.release();
    expect(await Promise.all(calls)).toEqual(Array(12).fill("released"));
    const lastCall = clock.now();

    // The panic window (6 s) still averages twice the capacity for two ticks after the last
    // call; from then on the burst is over, and nothing scales down for a stable window (60 s).
    await clock.advanceTo(lastCall + 61_000);
    expect((await status(runlet, "elastic")).replicas).toBe(3);
    await clock.advanceTo(lastCall + 62_000);
    const calm = await status(runlet, "elastic");
    expect(calm.replicas).toBe(1);
    expect(calm.instances[0]?.lastDecision?.reason).toBe("idle for 62s; scale to zero after 300s");

    await clock.advanceTo(lastCall + 299_000);
    expect((await status(runlet, "elastic")).replicas).toBe(1);
    await clock.advanceTo(lastCall + 300_000);
    const scaledDown = await status(runlet, "elastic");
    expect(scaledDown.replicas).toBe(0);
    expect(scaledDown.instances[0]?.lastDecision?.reason).toBe(
      "no calls for 300s (idle timeout 300s): scale to zero",
    );
    const open = (await (await runlet.api("/system/function/elastic")).json()) as {
      replicas: number;
      availableReplicas: number;
    };
    expect(open).toMatchObject({ replicas: 0, availableReplicas: 0 });
    // Scale from zero during a call just works.
    expect(await (await fetch(`${runlet.url}/function/elastic?${query}`)).text()).toBe("released");
    expect((await status(runlet, "elastic")).instances[0]?.coldStarts).toBe(4);
  });

  it("scales an idle function to zero on the system clock", async () => {
    // The one scaling test on real time: without a clock given, the platform's own timers
    // drive the autoscaler (the tests above feed time instead).
    const runlet = await startTestRunlet({ poolSize: 0, tickIntervalMs: 100 });
    await runlet.deploy(
      "idler",
      { "index.js": `export default async () => "ok"` },
      { scale: { idleTimeout: "500ms" } },
    );
    const scaledDown = await eventually(
      async () => {
        const s = await status(runlet, "idler");
        return s.replicas === 0 ? s : undefined;
      },
      { what: "scale to zero" },
    );
    expect(scaledDown.instances[0]?.coldStarts).toBe(1);
    expect(scaledDown.instances[0]?.lastDecision?.reason).toContain("scale to zero");
  });

  it("keeps min instances warm however long they idle", async () => {
    const clock = new ManualClock();
    const runlet = await startTestRunlet({ poolSize: 0, clock });
    await runlet.deploy(
      "steady",
      { "index.js": `export default async () => "ok"` },
      { scale: { min: 2, idleTimeout: "1m" } },
    );
    await eventually(
      async () => ((await status(runlet, "steady")).availableReplicas === 2 ? true : undefined),
      { what: "two warm instances" },
    );
    // Well past the idle timeout (1 minute) and the stable window.
    await clock.advance(150_000);
    const later = await status(runlet, "steady");
    expect(later.availableReplicas).toBe(2);
    // The same two instances: none was stopped and replaced.
    expect(later.instances[0]?.coldStarts).toBe(2);
    expect(later.instances[0]?.lastDecision?.reason).toBe("idle; keeping min 2");
  });

  it("backs off a crash-looping function, answers RUNLET_CRASH_LOOP meanwhile, and reports it in describe", async () => {
    const clock = new ManualClock();
    const runlet = await startTestRunlet({ poolSize: 0, clock });
    await runlet.deploy("crashloop", {
      "index.js": `export default async (event) => {
        if (event.query.crash) { process.exit(7); }
        return "alive";
      }`,
    });
    const executorStatus = () => runlet.platform.executor.status("crashloop")[0];
    const call = (query = "") => fetch(`${runlet.url}/function/crashloop${query}`);
    /** A call that kills its instance, and the executor seeing the exit. */
    const crash = async (pending = call("?crash=1")): Promise<void> => {
      const answer = await pending;
      expect(answer.status).toBe(502);
      expect(((await answer.json()) as { error: { message: string } }).error.message).toContain(
        "exited with code 7",
      );
      await eventually(() => (executorStatus()?.ready === 0 ? true : undefined), {
        what: "the instance's exit",
      });
    };

    // The first crash restarts at once.
    await crash();
    expect(executorStatus()?.crashLoop).toBeUndefined();
    await crash();
    // From the second crash in a row, restarts wait 250 ms × 2ⁿ.
    expect(executorStatus()?.crashLoop).toEqual({
      crashes: 2,
      retryAt: new Date(clock.now() + 250).toISOString(),
    });
    const third = call("?crash=1");
    await eventually(() => (executorStatus()?.queued === 1 ? true : undefined), {
      what: "the call waiting for the back-off",
    });
    await clock.advance(249);
    expect(executorStatus()).toMatchObject({ starting: 0, ready: 0, queued: 1, coldStarts: 2 });
    await clock.advance(1);
    expect(executorStatus()?.starting).toBe(1);
    await crash(third);

    // Three in a row and nothing running: calls are refused until the next start (500 ms).
    const described = await status(runlet, "crashloop");
    expect(described.instances[0]?.lastExit).toContain("exited with code 7");
    expect(described.instances[0]?.crashLoop).toEqual({
      crashes: 3,
      retryAt: new Date(clock.now() + 500).toISOString(),
    });
    await clock.advance(499);
    const refused = await call();
    expect(refused.status).toBe(502);
    const { error } = (await refused.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe("RUNLET_CRASH_LOOP");
    expect(error.message).toMatch(
      /keeps crashing \(3 times in a row; last: .*exited with code 7\); the next start is in 1s/,
    );
    expect(executorStatus()?.coldStarts).toBe(3);
    await clock.advance(1);
    expect(await (await call()).text()).toBe("alive");

    // An instance that ran longer than 10 s before it died is not part of the loop.
    await clock.advance(11_000);
    await crash();
    expect(executorStatus()?.crashLoop).toBeUndefined();
    expect(await (await call()).text()).toBe("alive");
  });
});

describe("queue bound", () => {
  it("answers 429 with Retry-After once a function's wait queue is full, and serves the queued calls", async () => {
    const runlet = await startTestRunlet({ poolSize: 0, maxQueue: 2 });
    const slow = `export default async () => { await new Promise((r) => setTimeout(r, 1000)); return "done"; };`;
    await runlet.deploy("narrow", { "index.js": slow }, { scale: { max: 1, concurrency: 1 } });
    const call = () =>
      fetch(`${runlet.url}/function/narrow`).then(async (r) => ({
        status: r.status,
        body: await r.text(),
      }));
    const first = call();
    await eventually(
      () => (runlet.platform.executor.status("narrow")[0]?.inFlight === 1 ? true : undefined),
      { what: "the first call in flight" },
    );
    const queued = [call(), call()];
    await eventually(
      () => (runlet.platform.executor.status("narrow")[0]?.queued === 2 ? true : undefined),
      { what: "two queued calls" },
    );
    const refused = await fetch(`${runlet.url}/function/narrow`);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe(
      "RUNLET_QUEUE_FULL",
    );
    expect(await Promise.all([first, ...queued])).toEqual(
      Array.from({ length: 3 }, () => ({ status: 200, body: "done" })),
    );
  });
});

describe("network", () => {
  it("gives a function with network: false no network at all, and one with network: host the host's", async () => {
    const runlet = await startTestRunlet({ poolSize: 1 });
    const caller = `export default async (event) => {
      try { const r = await fetch(event.query.url, { signal: AbortSignal.timeout(3000) }); return "reached " + r.status; }
      catch (error) { return "unreachable: " + (error.cause?.code ?? error.name); }
    };`;
    await runlet.deploy("offline", { "index.js": caller }, { network: false });
    await runlet.deploy("online", { "index.js": caller }, { network: "host" });
    const query = new URLSearchParams({ url: `${runlet.url}/healthz` });
    expect(await (await fetch(`${runlet.url}/function/online?${query}`)).text()).toBe(
      "reached 200",
    );
    expect(await (await fetch(`${runlet.url}/function/offline?${query}`)).text()).toMatch(
      /^unreachable: (ECONNREFUSED|ENETUNREACH|EADDRNOTAVAIL)/,
    );
    expect((await status(runlet, "offline")).instances[0]?.coldStartsFromPool).toBe(0);
  });
});
