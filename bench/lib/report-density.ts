/** The density section of docs/benchmarks.md and its chart. */
import type { DensityResult, Memory } from "../suites/density.js";
import type { Section } from "./report.js";
import { fmt } from "./stats.js";
import { barChart } from "./svg.js";
import { table } from "./table.js";

const mib = (memory: Memory): string =>
  `${fmt(memory.rssMiB)} MiB RSS, ${fmt(memory.pssMiB)} MiB PSS`;
const single = (value: number): { median: number; min: number; max: number } => ({
  median: value,
  min: value,
  max: value,
});

export function densityChart(data: DensityResult): string {
  return barChart({
    title: "Density: latency of calls spread over every warm function, 10 at a time",
    yLabel: "latency (ms)",
    groups: data.steps.map((s) => `${s.warm} warm`),
    series: [
      { label: "p50", values: data.steps.map((s) => single(s.p50Ms)) },
      { label: "p99", values: data.steps.map((s) => single(s.p99Ms)) },
    ],
  });
}

export function densitySection(section: Section<DensityResult> | undefined): string {
  if (!section) {
    return "## Density\n\nNot measured yet: `npm run bench -- --only density`.";
  }
  const data = section.data;
  const { poolSize } = data.settings;
  const last = data.steps.at(-1);
  const perInstancePss =
    last && last.warm > 0 ? (last.instances.pssMiB - data.idle.pool.pssMiB) / last.warm : NaN;
  const perInstanceRss =
    last && last.warm > 0 ? (last.instances.rssMiB - data.idle.pool.rssMiB) / last.warm : NaN;
  return [
    "## Density",
    "",
    `Ran ${section.ranAt.slice(0, 16).replace("T", " ")} UTC, ${section.quick ? "`--quick`" : "full"} run, Runlet at ${section.commit}; instances: ${data.isolation}.`,
    "",
    "`runlet up` from the built CLI, as users start it, with a warm pool of",
    `${poolSize} generic Node instances. Memory is read from \`/proc/PID/smaps_rollup\` for the platform`,
    "process and for every runtime server under it. RSS counts pages shared between processes (the",
    "Node binary, its snapshot) once per process; PSS splits them between the processes that share",
    "them, so the PSS sum is what the instances really take from the machine.",
    "",
    table(
      ["state", "platform process", "runtime servers", "count"],
      [
        [
          "idle, nothing deployed",
          mib(data.idle.platform),
          mib(data.idle.pool),
          `${poolSize} pooled`,
        ],
        [
          `${data.settings.functions} functions deployed, ${data.settings.warm} warm`,
          mib(data.deployed.platform),
          mib(data.deployed.instances),
          `${data.deployed.instances.processes} (warm + pool)`,
        ],
      ],
    ),
    "",
    `Deploying the ${data.settings.functions} functions (4 at a time, each deploy loads the code into an instance before it answers) took ${fmt(data.deployed.deploySeconds)} s. Functions not called since their deploy scale to zero after their idle timeout and cost only their row in SQLite and their share of the content-addressed package (all share one here).`,
    "",
    "### How many warm instances fit",
    "",
    "More functions are deployed with a long idle timeout, so each keeps one warm instance; at every step",
    "calls go round-robin over all warm functions, 10 at a time, so every instance is exercised.",
    "",
    table(
      [
        "warm instances",
        "p50 ms",
        "p99 ms",
        "calls/s",
        "runtime servers",
        "platform",
        "memory available",
      ],
      data.steps.map((s) => [
        String(s.warm),
        fmt(s.p50Ms),
        fmt(s.p99Ms),
        fmt(s.requestsPerSecond),
        mib(s.instances),
        mib(s.platform),
        `${fmt(s.availableGiB)} GiB`,
      ]),
    ),
    "",
    "![density latency](../bench/charts/density-latency.svg)",
    "",
    `Held ${data.heldWarm} warm instances with the median latency within twice the first step's; the ramp stopped because it ${data.stoppedBecause}. One more warm instance costs about ${fmt(perInstancePss)} MiB PSS (${fmt(perInstanceRss)} MiB RSS) here. An idle runtime server has no timers and uses no CPU, so what bounds the count is the machine's memory (${fmt(last?.availableGiB ?? NaN)} GiB left at the last step, room for about ${fmt(((last?.availableGiB ?? 0) * 1024) / perInstancePss)} more at this cost) and the kernel's pid limit, which every process and thread of an instance counts against (a Node runtime server runs about a dozen threads; \`sysctl kernel.pid_max\` raises the limit).`,
  ].join("\n");
}
