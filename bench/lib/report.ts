/** Renders the results into docs/benchmarks.md and the SVG charts under bench/charts/. */
import type { AsyncResult } from "../suites/async.js";
import type { ColdStartResult, ModeResult } from "../suites/cold-start.js";
import type { DensityResult } from "../suites/density.js";
import type { EchoResult } from "../suites/echo.js";
import type { InstanceResult } from "../suites/instance.js";
import type { WarmPathResult } from "../suites/warm-path.js";
import type { MachineInfo } from "./machine.js";
import { fmt, fmtSpread, spread, type Spread } from "./stats.js";
import { densityChart, densitySection } from "./report-density.js";
import { barChart } from "./svg.js";
import { table } from "./table.js";

export interface Section<T> {
  readonly ranAt: string;
  readonly quick: boolean;
  readonly commit: string;
  readonly machine: MachineInfo;
  readonly data: T;
}

export interface Results {
  sections: {
    warm?: Section<WarmPathResult>;
    echo?: Section<EchoResult>;
    cold?: Section<ColdStartResult>;
    instance?: Section<InstanceResult>;
    density?: Section<DensityResult>;
    async?: Section<AsyncResult>;
  };
}

const targetsOfIssue = {
  gatewayShare: 0.6,
  echoMedianMs: 5,
  poolColdP50Ms: 10,
};

function pct(value: number): string {
  return Number.isFinite(value)
    ? `${(value * 100).toFixed(value >= 0.995 && value < 1 ? 2 : 1)} %`
    : "–";
}

function pctSpread(s: Spread): string {
  if (!Number.isFinite(s.median)) {
    return "–";
  }
  return s.runs.length < 2 ? pct(s.median) : `${pct(s.median)} [${pct(s.min)}–${pct(s.max)}]`;
}

/** Whole counts over runs: "median [min–max]" without decimals. */
function count(s: Spread | undefined): string {
  if (!s || !Number.isFinite(s.median)) {
    return "–";
  }
  const m = Number.isInteger(s.median) ? String(s.median) : s.median.toFixed(1);
  return s.min === s.max ? m : `${m} [${s.min}–${s.max}]`;
}

function verdict(met: boolean | undefined): string {
  return met === undefined ? "not measured" : met ? "**met**" : "**not met**";
}

function runLine(section: Section<unknown>): string {
  return `Ran ${section.ranAt.slice(0, 16).replace("T", " ")} UTC, ${section.quick ? "`--quick`" : "full"} run, Runlet at ${section.commit}.`;
}

const notAvailable = "not available";

/** One bar series per target; a target that could not run keeps its legend entry, with no bars. */
function warmSeries(
  warm: WarmPathResult,
  pick: (level: WarmPathResult["targets"][number]["levels"][number]) => Spread,
): { label: string; values: Spread[] }[] {
  const none = spread([]);
  return [
    ...warm.targets.map((t) => ({ label: t.label, values: t.levels.map(pick) })),
    ...warm.skipped.map((s) => ({
      label: `${s.label} (${notAvailable})`,
      values: warm.settings.connections.map(() => none),
    })),
  ];
}

/** Table rows for the targets that could not run: "not available" in every cell. */
function unavailableRows(warm: WarmPathResult, skip: readonly string[] = []): string[][] {
  return warm.skipped
    .filter((s) => !skip.includes(s.id ?? ""))
    .map((s) => [s.label, ...warm.settings.connections.map(() => notAvailable)]);
}

export function renderCharts(results: Results): Record<string, string> {
  const charts: Record<string, string> = {};
  const warm = results.sections.warm?.data;
  if (warm) {
    const groups = warm.settings.connections.map((c) => `${c} connection${c === 1 ? "" : "s"}`);
    charts["warm-path-throughput.svg"] = barChart({
      title: "Warm path, hello world: requests/s (median of runs, whiskers min–max)",
      yLabel: "requests/s",
      groups,
      series: warmSeries(warm, (l) => l.rps),
    });
    charts["warm-path-latency.svg"] = barChart({
      title: "Warm path, hello world: p99 latency in ms (log scale)",
      yLabel: "p99 latency (ms)",
      groups,
      log: true,
      series: warmSeries(warm, (l) => l.p99),
    });
  }
  const density = results.sections.density?.data;
  if (density) {
    charts["density-latency.svg"] = densityChart(density);
  }
  const echo = results.sections.echo?.data;
  if (echo) {
    charts["echo-response-time.svg"] = barChart({
      title: "Echo through Runlet (2018 evaluation rerun): response time in ms",
      yLabel: "response time (ms)",
      groups: echo.levels.map((l) => `${l.users} user${l.users === 1 ? "" : "s"}`),
      series: [
        { label: "median", values: echo.levels.map((l) => l.median) },
        { label: "95th percentile", values: echo.levels.map((l) => l.p95) },
      ],
      reference: { value: targetsOfIssue.echoMedianMs, label: "target: median < 5 ms" },
    });
  }
  const cold = results.sections.cold?.data;
  if (cold) {
    const point = (v: number): { median: number; min: number; max: number } => ({
      median: v,
      min: v,
      max: v,
    });
    const runtimes = [...new Set(cold.modes.map((m) => m.runtime ?? "node"))];
    const find = (runtime: string, mode: "pool" | "zero"): ModeResult | undefined =>
      cold.modes.find((m) => (m.runtime ?? "node") === runtime && m.mode === mode);
    const values = (pick: (runtime: string) => LatencyPair | undefined) =>
      runtimes.flatMap((runtime) => {
        const pair = pick(runtime);
        return [point(pair?.p50 ?? Number.NaN), point(pair?.p99 ?? Number.NaN)];
      });
    charts["cold-start.svg"] = barChart({
      title: "Cold and warm calls through the gateway: ms (log scale)",
      yLabel: "ms",
      groups: runtimes.flatMap((runtime) => [`${runtime} p50`, `${runtime} p99`]),
      log: true,
      series: [
        { label: "warm-pool specialization", values: values((r) => find(r, "pool")?.cold) },
        { label: "spawn from zero (poolSize 0)", values: values((r) => find(r, "zero")?.cold) },
        { label: "warm call", values: values((r) => find(r, "pool")?.warm) },
      ],
      reference: {
        value: targetsOfIssue.poolColdP50Ms,
        label: "target: Node warm-pool p50 < 10 ms",
      },
    });
  }
  return charts;
}

interface LatencyPair {
  readonly p50: number;
  readonly p99: number;
}

function summary(results: Results): string {
  const rows: string[][] = [];
  const beaten: string[] = [];
  const warm = results.sections.warm?.data;
  const at50 = (id: string) =>
    warm?.targets.find((t) => t.id === id)?.levels.find((l) => l.connections === 50);
  const gw = at50("runlet");
  const floor = at50("raw");
  rows.push([
    `Gateway throughput at 50 connections ≥ ${targetsOfIssue.gatewayShare * 100} % of the raw floor`,
    gw && floor
      ? `${fmt(gw.rps.median)} vs ${fmt(floor.rps.median)} req/s: ${pctSpread(gw.ratioToFloor)}`
      : "–",
    verdict(gw ? gw.ratioToFloor.median >= targetsOfIssue.gatewayShare : undefined),
  ]);
  const echo = results.sections.echo?.data.levels.find((l) => l.users === 100);
  rows.push([
    "Echo at 100 users: 100 % success",
    echo
      ? `${echo.answered.toLocaleString("en-US")} of ${echo.attempted.toLocaleString("en-US")} (${pct(echo.successRatio)})`
      : "–",
    verdict(echo ? echo.answered === echo.attempted : undefined),
  ]);
  rows.push([
    `Echo at 100 users: median < ${targetsOfIssue.echoMedianMs} ms`,
    echo ? `${fmtSpread(echo.median, "ms")}` : "–",
    verdict(echo ? echo.median.median < targetsOfIssue.echoMedianMs : undefined),
  ]);
  const cold = results.sections.cold?.data;
  const pool = cold?.modes.find((m) => m.mode === "pool" && (m.runtime ?? "node") === "node");
  rows.push([
    `Node warm-pool cold start p50 < ${targetsOfIssue.poolColdP50Ms} ms`,
    pool
      ? `p50 ${fmt(pool.cold.p50, "ms")}, p99 ${fmt(pool.cold.p99, "ms")} (${pool.cold.count} cold calls${cold?.poolSupported ? "" : "; no warm pool was running"})`
      : "–",
    verdict(
      pool
        ? cold?.poolSupported === true && pool.cold.p50 < targetsOfIssue.poolColdP50Ms
        : undefined,
    ),
  ]);
  const peerRows: string[][] = [];
  const runlet = warm?.targets.find((t) => t.id === "runlet");
  // The byte pipe is a reference for the cost of a hop, not a platform users would pick.
  const peers = warm?.targets.filter((t) => !["runlet", "raw", "pipe"].includes(t.id)) ?? [];
  for (const peer of peers) {
    peerRows.push([
      peer.label,
      ...peer.levels.map((level) => {
        const ours = runlet?.levels.find((l) => l.connections === level.connections);
        if (!ours) {
          return "–";
        }
        const ratio = level.rps.median / ours.rps.median;
        const latency = `p99 ${fmt(level.p99.median)} vs ${fmt(ours.p99.median)} ms`;
        if (ratio > 1 || level.p99.median < ours.p99.median) {
          beaten.push(`${peer.label} at c=${level.connections}`);
        }
        return `${ratio > 1 ? "**" : ""}${fmt(ratio)}×${ratio > 1 ? "**" : ""}, ${latency}`;
      }),
    ]);
  }
  const parts = [
    "## Targets of issue 6",
    "",
    table(["target", "measured (median [min–max] of runs)", "result"], rows),
    "",
    "### Where a peer beats Runlet (warm path, same run)",
    "",
    warm
      ? [
          "Each cell: the peer's requests/s divided by Runlet's in the same run (bold where the peer is",
          "faster), and both p99 latencies (peer vs Runlet).",
          "",
          table(
            ["peer", ...warm.settings.connections.map((c) => `c=${c}`)],
            [...peerRows, ...unavailableRows(warm, ["pipe"])],
          ),
          "",
          beaten.length > 0
            ? `A peer beats Runlet on throughput or p99 in ${beaten.length} of ${peerRows.length * warm.settings.connections.length} cells of this table.`
            : "No peer beat Runlet on throughput or p99 at any connection count in this run.",
        ].join("\n")
      : "Not measured yet.",
  ];
  const pipe = at50("pipe");
  const gwCpu = gw?.cpuUs;
  const rawCpu = floor?.cpuUs;
  if (beaten.length > 0 || (gw && gw.ratioToFloor.median < targetsOfIssue.gatewayShare)) {
    parts.push(
      "",
      "**What limits Runlet here, and what it would take to win.** Knative's, Google's and Fission's",
      "runtimes run the handler inside the process that takes the connection: one process, one event",
      "loop, no second hop (OpenFaaS has one, of-watchdog in front of the template, over HTTP). Runlet's gateway",
      "is a separate process from the instance (the price of isolating functions from the platform and",
      "from each other), so every call is read by the gateway, forwarded as frames on a Unix socket",
      "(docs/runtime-protocol.md), decoded again by the instance, and the answer makes the same trip back.",
      gw && gwCpu && rawCpu
        ? `At 50 connections Runlet spent ${fmt(gwCpu.front.median)} µs of gateway CPU and ${fmt(gwCpu.behind.median)} µs of instance CPU per call, against ${fmt(rawCpu.total.median)} µs for the whole raw server; the load generator took ${fmt(generatorUs(gw))} µs per request. The raw server and the gateway are each one event loop, so at saturation each is bounded by one core, while the instance and the generator share the other: the gateway's share of the floor tends to the raw server's CPU per request over the gateway's (${pct(rawCpu.total.median / gwCpu.front.median)} here). ${targetsOfIssue.gatewayShare * 100} % needs the gateway under about ${fmt(rawCpu.total.median / targetsOfIssue.gatewayShare)} µs per call.`
        : "",
      "",
      pipe && gw
        ? `What one hop costs by itself: a Node process that only copies bytes between each client and its own connection to the raw server, with no HTTP parsing, routing or bookkeeping (bench/fixtures/byte-pipe.mjs), reached ${pctSpread(pipe.ratioToFloor)} of the floor in this run, at ${fmt(pipe.cpuUs.front.median)} µs of CPU per request for the copying alone. That is the obvious way to put a process in front of a handler; Runlet reached ${pctSpread(gw.ratioToFloor)}, ${gw.ratioToFloor.median >= pipe.ratioToFloor.median ? "more" : "less"} than the bare pipe, while also reading each request, routing it, holding its deadline and counting it: its calls share a few framed connections to the instance and one write per event-loop turn, where the pipe spends a connection and two more syscalls on every request.`
        : "",
      "",
      "What is already off the per-call path: node:http for plain-shaped calls (the gateway's lean front reads and answers them itself, src/gateway/front), prom-client's label hashing (per-call metrics are plain numbers until scraped), the per-call AbortController, closures per call, and one socket write per call to the instance (calls that arrive together share one). Winning outright would take the gateway out of the per-call path: hand the client's connection to the instance after the first request (passing the socket over the Unix socket), so a warm call costs about one raw server. Per-call auth, metrics and timeouts would then run beside the function code, inside its sandbox, and a client's later requests on that connection, even to other functions, would reach that sandbox: a trade against isolation that is not taken.",
    );
  }
  return parts.join("\n");
}

/** The load generator's CPU per answered request, µs. */
function generatorUs(level: {
  readonly generatorCpu: { median: number };
  readonly rps: { median: number };
}): number {
  return (level.generatorCpu.median * 1e6) / level.rps.median;
}

function machineSection(results: Results): string {
  const named: [string, Section<unknown> | undefined][] = [
    ["warm path", results.sections.warm],
    ["echo rerun", results.sections.echo],
    ["cold starts", results.sections.cold],
    ["async calls", results.sections.async],
  ];
  const sections = named.filter(
    (entry): entry is [string, Section<unknown>] => entry[1] !== undefined,
  );
  // The most recent section's machine: versions of what it measured (a peer added since) show.
  const latest = [...sections]
    .sort(([, a], [, b]) => a.ranAt.localeCompare(b.ranAt))
    .at(-1)?.[1].machine;
  if (!latest) {
    return "";
  }
  return [
    "## Machine and versions",
    "",
    table(
      ["", ""],
      [
        ["CPU", `${latest.cpuModel}, ${latest.cores} cores`],
        ["memory", `${latest.memoryGiB.toFixed(1)} GiB`],
        ["kernel", latest.kernel],
        ...Object.entries(latest.versions),
      ],
    ),
    "",
    "The machine is shared with other work; its load average (1, 5, 15 min) when each section started:",
    "",
    table(
      ["section", "ran (UTC)", "run", "Runlet commit", "load average"],
      sections.map(([name, s]) => [
        name,
        s.ranAt.slice(0, 16).replace("T", " "),
        s.quick ? "--quick" : "full",
        s.commit,
        s.machine.loadAverage.map((l) => l.toFixed(2)).join(", "),
      ]),
    ),
  ].join("\n");
}

const method = `## How it is measured

- **Processes.** \`npm run bench\` (bench/run.ts, run with tsx) is the load generator and the
  orchestrator. Every server under test is a child process of it with a clean environment (PATH
  and HOME only): the raw server, each peer runtime, and Runlet itself (bench/servers/runlet-server.mjs
  starts the embedded platform from the build in dist/, as \`runlet up\` runs it, with a fresh data directory; its function instances
  are its own children). So the load generator never shares an event loop with the server, but on
  this 2-core machine it does share the CPU with it: no process is pinned, the kernel schedules
  load generator, gateway and instance across both cores, and servers not under test sit idle. The
  load generator's own CPU use is in bench/results/latest.json (\`generatorCpu\`, share of one core).
- **Load.** Closed loop: N keep-alive connections, each sends its next request when the previous
  answer arrives (pipelining 1). Requests/s counts 2xx answers only. The warm path uses wrk (one
  thread; percentiles from its microsecond histogram): it is C and spends less than half of
  autocannon's CPU per request, and on 2 cores whatever the generator spends is taken from the
  servers under test (with autocannon the floor was bounded by the generator, which used a whole
  core, not by the server). At 50 connections the floor and Runlet are also run under autocannon,
  and that ratio is shown beside wrk's. The echo rerun, cold starts and async use autocannon's
  programmatic API, with latency computed from every response time (autocannon's own histogram
  rounds to whole milliseconds).
- **Repeats.** Each figure is the median of repeated runs, shown as \`median [min–max]\` over the
  runs. Warm-path runs go round-robin (repeat → connection count → target), so drift on the shared
  machine hits every target alike, and each ratio is taken between runs of the same repeat, then
  the median of those ratios is reported. Every target gets a warm-up at 50 connections first.
- **Not a test.** Nothing here runs in \`npm test\`; there are no timing assertions anywhere.`;

function warmSection(section: Section<WarmPathResult> | undefined): string {
  if (!section) {
    return "## Warm path, one hop\n\nNot measured yet.";
  }
  const { data } = section;
  const header = ["target", ...data.settings.connections.map((c) => `c=${c}`)];
  const missing = unavailableRows(data);
  const rps = [
    ...data.targets.map((t) => [t.label, ...t.levels.map((l) => fmtSpread(l.rps))]),
    ...missing,
  ];
  const ratio = [
    ...data.targets
      .filter((t) => t.id !== "raw")
      .map((t) => [t.label, ...t.levels.map((l) => pctSpread(l.ratioToFloor))]),
    ...missing,
  ];
  const latency = [
    ...data.targets.map((t) => [
      t.label,
      ...t.levels.map((l) => `${fmt(l.p50.median)} / ${fmt(l.p99.median)}`),
    ]),
    ...missing,
  ];
  const failures = data.targets.flatMap((t) =>
    t.levels
      .filter((l) => l.failed > 0)
      .map((l) => `${t.label} at c=${l.connections}: ${l.failed}`),
  );
  return [
    "## Warm path, one hop",
    "",
    runLine(section),
    `Each run lasts ${data.settings.durationS} s; ${data.settings.repeats} runs per cell.`,
    "",
    "![requests per second](../bench/charts/warm-path-throughput.svg)",
    "",
    "### Requests/s (median [min–max])",
    "",
    table(header, rps),
    "",
    "### Share of the raw floor's requests/s (same repeat)",
    "",
    ...(() => {
      const raw = data.targets
        .find((t) => t.id === "raw")
        ?.levels.find((l) => l.connections === 50);
      return raw && raw.generatorCpu.median >= 0.85
        ? [
            `At 50 connections the load generator used ${pct(raw.generatorCpu.median)} of a core against the raw server, so the floor is bounded by the load generator, not by the server (${fmt(raw.cpuUs.total.median)} µs of server CPU per request): the real floor is higher, and these shares flatter every target.`,
            "",
          ]
        : [];
    })(),
    table(header, ratio),
    ...(data.autocannonCheck
      ? [
          "",
          `The same floor and gateway at ${data.autocannonCheck.connections} connections with autocannon as the generator (same repeats): ${fmtSpread(data.autocannonCheck.runletRps)} vs ${fmtSpread(data.autocannonCheck.rawRps)} req/s, ${pctSpread(data.autocannonCheck.ratio)} of the floor; autocannon itself used ${pct(data.autocannonCheck.generatorCpu.median)} of a core against the raw server. Its CPU comes out of the two cores the gateway and the instance share, which is why the share is lower with it.`,
        ]
      : []),
    "",
    "### Latency p50 / p99 in ms (median of runs)",
    "",
    "![p99 latency](../bench/charts/warm-path-latency.svg)",
    "",
    table(header, latency),
    "",
    "### Server CPU per request at each connection count (µs, median of runs)",
    "",
    "From /proc: CPU time of the target's processes over a run divided by the 2xx answers. For Runlet",
    "front = the gateway process, behind = its instances; for OpenFaaS front = of-watchdog, behind =",
    "the node20 template it forks; for the byte pipe front = the pipe, behind = the raw upstream. The",
    "load generator's own CPU is not included.",
    "",
    table(header, [
      ...data.targets.map((t) => [
        t.label,
        ...t.levels.map((l) =>
          l.cpuUs === undefined
            ? "–"
            : l.cpuUs.behind.median > 0.5
              ? `${fmt(l.cpuUs.total.median)} (${fmt(l.cpuUs.front.median)} + ${fmt(l.cpuUs.behind.median)})`
              : fmt(l.cpuUs.total.median),
        ),
      ]),
      ...missing,
    ]),
    "",
    "### What each target is",
    "",
    ...data.targets.map((t) => `- **${t.label}**: ${t.note}`),
    ...data.skipped.map((s) => `- **${s.label}**: ${notAvailable} in this run. ${s.reason}`),
    "",
    failures.length > 0
      ? `Non-2xx answers or errors: ${failures.join("; ")}.`
      : "Every request got a 2xx answer.",
  ].join("\n");
}

const paper = [
  ["Fission", "≈ 2 ms in all cases", "≈ 99 % (1,336 outliers of 1–20 s in total)"],
  ["Kubeless", "< 80 ms", "100 % everywhere"],
  ["OpenFaaS", "< 80 ms", "> 98 %, below 98 % at ≥ 50 users"],
];

function echoSection(section: Section<EchoResult> | undefined): string {
  if (!section) {
    return "## The 2018 evaluation rerun (echo)\n\nNot measured yet.";
  }
  const { data } = section;
  const rows = data.levels.map((l) => [
    String(l.users),
    fmtSpread(l.median),
    fmtSpread(l.p95),
    fmtSpread(l.rps),
    String(l.outliers),
    `${pct(l.successRatio)} (${l.answered.toLocaleString("en-US")}/${l.attempted.toLocaleString("en-US")})`,
  ]);
  return [
    "## The 2018 evaluation rerun (echo)",
    "",
    "Mohanty, Premsankar, di Francesco, “An Evaluation of Open Source Serverless Computing Frameworks”,",
    "IEEE CloudCom 2018, experiment 1: an echo function with autoscaling off, closed-loop concurrent users",
    "1–100, median and 95th percentile response time, responses over 1 s, and the share of successful",
    "responses. Here: the Node echo function bench/fixtures/runlet/echo (returns the request body) through",
    "Runlet's gateway, one instance (`scale: {min: 1, max: 1}`, so no autoscaling), body",
    `\`${data.settings.body}\`, ${data.settings.requestsPerRun.toLocaleString("en-US")} requests per run,`,
    `${data.settings.repeats} runs per user count.`,
    "",
    runLine(section),
    "",
    "![echo response time](../bench/charts/echo-response-time.svg)",
    "",
    table(["users", "median ms", "p95 ms", "req/s", "> 1 s", "success"], rows),
    "",
    "The paper's figures (3 GKE nodes of 2 vCPU each, JMeter, 100,000 requests × 5 runs per cell):",
    "",
    table(["platform", "median response time", "success ratio"], paper),
    "",
    ...(() => {
      const at100 = data.levels.find((l) => l.users === 100);
      if (!at100) {
        return [];
      }
      return [
        `With 100 users always waiting for an answer, the response time is set by throughput (Little's law: time ≈ users ÷ calls per second): at ${fmt(at100.rps.median)} calls/s that is about ${fmt((100 / at100.rps.median) * 1000)} ms. A median under ${targetsOfIssue.echoMedianMs} ms at 100 users needs about ${fmt(100 / (targetsOfIssue.echoMedianMs / 1000))} calls/s through the gateway on this machine, so this target waits on the same gateway cost per call as the warm-path one.`,
        "",
      ];
    })(),
    "Not like for like: the paper's platforms ran on Kubernetes across machines, where every call crosses",
    "the network and a router or gateway pod; here everything is on one 2-core machine over loopback,",
    "with fewer requests per run. The comparison says how Runlet's own path behaves under the same",
    "closed-loop workload, not that it would beat those systems on their hardware.",
  ].join("\n");
}

function coldSection(section: Section<ColdStartResult> | undefined): string {
  if (!section) {
    return "## Cold starts\n\nNot measured yet.";
  }
  const { data } = section;
  const rows: string[][] = [];
  const runtimeOf = (m: ModeResult): string => m.runtime ?? "node";
  const runtimes = [...new Set(data.modes.map(runtimeOf))];
  for (const m of data.modes) {
    rows.push([
      m.mode === "pool"
        ? `${runtimeOf(m)}: cold, warm-pool specialization (poolSize ${m.poolSize})`
        : `${runtimeOf(m)}: cold, spawn from zero (poolSize 0)`,
      String(m.cold.count),
      fmt(m.cold.p50),
      fmt(m.cold.p99),
      `${fmt(m.cold.min)}–${fmt(m.cold.max)}`,
      `${m.confirmedCold}/${m.cold.count}`,
      `${m.fromPool ?? 0}/${m.cold.count}`,
    ]);
  }
  for (const m of data.modes.filter((mode) => mode.mode === "pool")) {
    rows.push([
      `${runtimeOf(m)}: warm call (instance running)`,
      String(m.warm.count),
      fmt(m.warm.p50),
      fmt(m.warm.p99),
      `${fmt(m.warm.min)}–${fmt(m.warm.max)}`,
      "–",
      "–",
    ]);
  }
  const pool = data.modes.find((m) => m.mode === "pool" && runtimeOf(m) === "node");
  const bursts = data.modes.map((m) => [
    `${runtimeOf(m)}, ${m.mode === "pool" ? `poolSize ${m.poolSize}` : "poolSize 0"}`,
    fmtSpread(m.burst.allAnswered),
    `${count(m.burst.specialized)} (${count(m.burst.specializedFromPool)} from the pool)`,
    fmtSpread(m.burst.p50),
    fmtSpread(m.burst.p99),
    `${m.burst.ok}/${m.burst.sent}`,
  ]);
  const speedUps = runtimes.map((runtime) => {
    const pooled = data.modes.find((m) => m.mode === "pool" && runtimeOf(m) === runtime);
    const spawned = data.modes.find((m) => m.mode === "zero" && runtimeOf(m) === runtime);
    return pooled && spawned && pooled.idleInstances > 0
      ? `${runtime}: specializing a pooled instance is ${fmt(spawned.cold.p50 / pooled.cold.p50)}× faster at p50 than spawning one.`
      : `${runtime}: no warm pool was running, so both rows measure a spawn.`;
  });
  return [
    `## Cold starts (${runtimes.join(", ")})`,
    "",
    runLine(section),
    "",
    "A cold call is a call to a function with no running instance. Deploying starts one instance (to",
    'check that the code loads), so the bench deploys 25 functions with `scale: {min: 0, idleTimeout: "1s"}`',
    "(the same hello-world package under different names), waits until the status API",
    "(`GET /api/v1/functions/NAME`) shows zero replicas for all of them, then calls each once,",
    `${data.settings.gapMs} ms apart so a pool can refill; repeated until ${data.settings.calls} cold calls.`,
    "The time is measured at the client: request sent through the gateway → whole answer received.",
    '"confirmed" counts the calls after which the function\'s `instances[].coldStarts` went up.',
    "",
    data.poolSupported
      ? `With poolSize ${pool?.poolSize ?? "?"} the platform had ${pool?.idleInstances ?? 0} idle generic Node instance(s) once the functions were deployed (a runtime's pool starts with its first function); each cold call waited until the pool was full again (\`runlet_warm_pool_idle\` in \`/metrics\`). \"from pool\" counts the calls whose instance was a specialized pooled one (\`instances[].coldStartsFromPool\`).`
      : "**This platform build ran no warm pool** (no instance process was running before the first deploy with `poolSize` set), so both rows measure the same path; rerun `npm run bench -- --only cold` once `poolSize` is in.",
    "",
    "![cold starts](../bench/charts/cold-start.svg)",
    "",
    table(["call", "calls", "p50 ms", "p99 ms", "min–max ms", "confirmed cold", "from pool"], rows),
    "",
    `### A burst of ${data.settings.burstSize} concurrent calls against a function scaled to zero`,
    "",
    `Default scale (\`max: 10\`, \`concurrency: 50\`) with \`window: "2s"\`, ${data.settings.bursts} bursts per row, each on a new function scaled to zero. "all answered" runs from the first request sent to the last answer received; the 200 calls open 200 connections.`,
    "",
    table(["platform", "all answered (ms)", "instances started", "p50 ms", "p99 ms", "ok"], bursts),
    "",
    speedUps.join("\n"),
  ].join("\n");
}

function instanceSection(section: Section<InstanceResult> | undefined): string {
  if (!section) {
    return "## Instances (issue 3)\n\nNot measured yet: `npm run bench -- --only instance`.";
  }
  const { data } = section;
  const ms = (s: Spread): string =>
    `${fmt(s.median * 1000)} µs [${fmt(s.min * 1000)}–${fmt(s.max * 1000)}]`;
  const rss = [...data.idleInstanceRssMiB].sort((a, b) => a - b);
  const rssMedian = rss[Math.floor(rss.length / 2)] ?? Number.NaN;
  return [
    "## Instances (issue 3)",
    "",
    runLine(section),
    "",
    `Instances: ${data.isolation}. One connection, ${data.settings.calls} sequential calls per round, ${data.settings.rounds} rounds; figures are the median round [lowest–highest].`,
    "",
    table(
      ["figure", "measured", "target", "result"],
      [
        ["call straight to the instance's socket, p50", ms(data.directP50), "–", "–"],
        ["same call through the gateway, p50", ms(data.gatewayP50), "–", "–"],
        [
          "gateway overhead, p50",
          ms(data.overheadP50),
          "< 300 µs",
          data.overheadP50.median < 0.3 ? "**met**" : "**not met**",
        ],
        [
          "p99 direct / through the gateway",
          `${ms(data.directP99)} / ${ms(data.gatewayP99)}`,
          "–",
          "–",
        ],
        [
          "idle generic instance RSS (warmed up, in the pool)",
          `${fmt(rssMedian)} MiB (${rss.map((v) => fmt(v)).join(", ")})`,
          "< 40 MB",
          rssMedian < 40 ? "**met**" : "**not met**",
        ],
        [
          "bare `node:http` server RSS on this Node (the floor)",
          `${fmt(data.bareNodeRssMiB)} MiB`,
          "–",
          "–",
        ],
      ],
    ),
    "",
    "The memory target is below what Node 20 itself needs for an idle HTTP server here (the floor row);",
    "the instance adds the runtime server and the code compiled by its warm-up. Meeting it would take a",
    "runtime that shares one process among several instances (isolates or worker threads), at the cost of the",
    "process-per-instance isolation the sandbox and cgroup limits rest on.",
  ].join("\n");
}

function asyncSection(section: Section<AsyncResult> | undefined): string {
  if (!section) {
    return "## Async calls\n\nNot measured yet: `npm run bench -- --only async`.";
  }
  const { data } = section;
  const { kill } = data;
  return [
    "## Async calls",
    "",
    runLine(section),
    "",
    "`POST /async-function/NAME` answers 202 only after the call is stored in SQLite (docs/async.md).",
    `Accepted: autocannon, ${data.settings.connections} connections POSTing \`{}\` for ${data.settings.acceptDurationS} s to a no-op function (bench/fixtures/runlet/hello) while the workers drain the same queue in the same process; ${data.settings.repeats} runs. Drain: ${data.settings.drainCalls.toLocaleString("en-US")} calls to a no-op function are accepted by a platform whose workers are off (\`RUNLET_ASYNC_CONCURRENCY=0\`), which then stops; a platform with workers on (default: 100 at a time) opens the same data directory, and the drain is timed from the stored timestamps, first attempt started → last call finished. It includes the cold start of the function's first instance.`,
    "",
    table(
      ["figure", "measured (median [min–max] of runs)"],
      [
        ["async calls accepted (202) per second", fmtSpread(data.acceptedPerS, "calls/s")],
        [
          "time to a 202, p50 / p99",
          `${fmtSpread(data.acceptP50Ms, "ms")} / ${fmtSpread(data.acceptP99Ms, "ms")}`,
        ],
        ["non-202 answers or errors while accepting", String(data.acceptFailures)],
        [
          `drain of ${data.settings.drainCalls.toLocaleString("en-US")} queued calls, no-op function`,
          `${fmtSpread(data.drainPerS, "calls/s")} (${fmtSpread(data.drainMs, "ms")} in all)`,
        ],
      ],
    ),
    "",
    `### SIGKILL with ${data.settings.killCalls.toLocaleString("en-US")} calls queued`,
    "",
    `${kill.accepted.toLocaleString("en-US")} calls were accepted for a function that takes ${data.settings.killFunctionMs} ms (\`scale: {max: 1, concurrency: 4}\`, so about ${fmt(4000 / data.settings.killFunctionMs)} calls/s); right after the last 202 the server process got SIGKILL, then a new one was started on the same data directory.`,
    "",
    table(
      ["figure", "calls", "target", "result"],
      [
        ["accepted (202) before the kill", String(kill.accepted), "–", "–"],
        [
          "queued / running / succeeded just before the kill",
          `${kill.queuedAtKill} / ${kill.runningAtKill} / ${kill.succeededAtKill}`,
          "–",
          "–",
        ],
        ["succeeded after the restart", String(kill.succeededAfterRestart), "–", "–"],
        ["lost", String(kill.lost), "0", kill.lost === 0 ? "**met**" : "**not met**"],
        [
          "ran more than once (cut off by the kill; at least once, same X-Call-Id)",
          String(kill.ranAgain),
          "–",
          "–",
        ],
        ["from restart until all had finished", fmt(kill.recoveryMs, "ms"), "–", "–"],
      ],
    ),
  ].join("\n");
}

export function renderReport(results: Results): string {
  return [
    "# Benchmarks",
    "",
    "Written by `npm run bench` (bench/run.ts); do not edit by hand. `npm run bench` runs everything",
    "(about 14 minutes here), `npm run bench -- --quick` runs shorter and fewer repeats (under 3 minutes),",
    "`npm run bench -- --only warm,echo,cold,instance,density,async` runs some sections and keeps the others from",
    "bench/results/latest.json (`--render` only rewrites this page and the charts from it). The",
    "measurements behind every figure are in that file; the charts are in bench/charts/.",
    "",
    summary(results),
    "",
    machineSection(results),
    "",
    method,
    "",
    warmSection(results.sections.warm),
    "",
    echoSection(results.sections.echo),
    "",
    coldSection(results.sections.cold),
    "",
    instanceSection(results.sections.instance),
    "",
    densitySection(results.sections.density),
    "",
    asyncSection(results.sections.async),
    "",
  ].join("\n");
}
