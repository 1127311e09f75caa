/**
 * The 2018 evaluation rerun (Mohanty, Premsankar, di Francesco, "An Evaluation of Open Source
 * Serverless Computing Frameworks", CloudCom 2018, experiment 1): an echo function, autoscaling
 * off, closed-loop users 1–100; median and 95th percentile response time, responses over 1 s,
 * and the ratio of successful responses.
 */
import { fileURLToPath } from "node:url";
import { runLoad } from "../lib/load.js";
import type { RunletProcess } from "../lib/runlet-api.js";
import { median, percentile, spread, type Spread } from "../lib/stats.js";

const fixtures = fileURLToPath(new URL("../fixtures/", import.meta.url));

export interface EchoOptions {
  readonly users: readonly number[];
  readonly requestsPerRun: number;
  readonly repeats: number;
  readonly runlet: RunletProcess;
  readonly log: (line: string) => void;
}

export interface EchoLevel {
  readonly users: number;
  readonly median: Spread;
  readonly p95: Spread;
  readonly rps: Spread;
  /** Responses slower than 1 s, over all runs. */
  readonly outliers: number;
  readonly answered: number;
  readonly attempted: number;
  readonly successRatio: number;
}

export interface EchoResult {
  readonly levels: readonly EchoLevel[];
  readonly settings: {
    readonly requestsPerRun: number;
    readonly repeats: number;
    readonly body: string;
  };
}

const body = JSON.stringify({ message: "echo", n: 42 });

export async function runEcho(options: EchoOptions): Promise<EchoResult> {
  const { log } = options;
  // Autoscaling off, as in the paper's experiment 1: one replica, always running.
  await options.runlet.deploy("echo", `${fixtures}runlet/echo`, {
    scale: { min: 1, max: 1, concurrency: 1000 },
  });
  const url = `${options.runlet.url}/function/echo`;
  const check = await fetch(url, {
    method: "POST",
    body,
    headers: { "content-type": "application/json" },
  });
  const echoed = await check.text();
  if (!check.ok || echoed !== body) {
    throw new Error(`the echo function answered ${check.status} ${JSON.stringify(echoed)}`);
  }
  await runLoad({
    url,
    connections: 10,
    durationS: 1,
    method: "POST",
    body,
    headers: { "content-type": "application/json" },
  });

  const levels: EchoLevel[] = [];
  for (const users of options.users) {
    const medians: number[] = [];
    const p95s: number[] = [];
    const rates: number[] = [];
    let outliers = 0;
    let answered = 0;
    let attempted = 0;
    for (let rep = 1; rep <= options.repeats; rep += 1) {
      const result = await runLoad({
        url,
        connections: users,
        amount: options.requestsPerRun,
        method: "POST",
        body,
        headers: { "content-type": "application/json" },
        timeoutS: 30,
      });
      medians.push(median(result.latenciesMs));
      p95s.push(percentile(result.latenciesMs, 95));
      rates.push(result.rps);
      const slow = result.latenciesMs.filter((ms) => ms > 1000).length;
      outliers += slow;
      answered += result.ok;
      attempted += result.ok + result.non2xx + result.errors;
      log(
        `  [${rep}/${options.repeats}] users=${String(users).padStart(3)}  median ${medians.at(-1)?.toFixed(2)} ms  ` +
          `p95 ${p95s.at(-1)?.toFixed(2)} ms  ${Math.round(result.rps)} req/s  ok ${result.ok}/${result.ok + result.non2xx + result.errors}  >1s ${slow}`,
      );
    }
    levels.push({
      users,
      median: spread(medians),
      p95: spread(p95s),
      rps: spread(rates),
      outliers,
      answered,
      attempted,
      successRatio: attempted === 0 ? Number.NaN : answered / attempted,
    });
  }
  return {
    levels,
    settings: { requestsPerRun: options.requestsPerRun, repeats: options.repeats, body },
  };
}
