/**
 * `runlet dev`'s loop (issue 20): deploy a function, watch its source folder, deploy again on
 * every change (a debounce gathers an editor's burst of writes into one deploy), and follow its
 * logs meanwhile. Each deploy reports how long after the change the new revision served: the
 * platform points the function at a revision only once its code has loaded, so when the deploy
 * answers, calls already reach the new code.
 */
import { watch, type FSWatcher } from "node:fs";
import type { StackFunction } from "../spec/stack-file.js";
import { onLines } from "../host/lines.js";
import type { GatewayClient } from "./client.js";
import { deployOne, type DeployedFunction } from "./commands/deploy.js";

export type DevEvent =
  | {
      readonly type: "deployed";
      readonly result: DeployedFunction;
      /** From the first change of the batch to the new revision serving; undefined at start. */
      readonly sinceChangeMs: number | undefined;
    }
  | { readonly type: "failed"; readonly error: unknown }
  | { readonly type: "progress"; readonly text: string }
  | {
      readonly type: "log";
      readonly line: { readonly callId?: string; readonly stream: string; readonly text: string };
    };

export interface DevLoopOptions {
  readonly client: GatewayClient;
  readonly fn: StackFunction;
  readonly report: (event: DevEvent) => void;
  /** Resolves when the loop should end (Ctrl-C). */
  readonly stop: Promise<unknown>;
  /** Quiet time after a change before deploying. @default 30 */
  readonly debounceMs?: number;
}

/** Changes under these are not the function's source (pack.ts leaves them out too). */
const ignoredParts = new Set([".git", ".hg", ".svn", ".runlet", "node_modules"]);

export async function runDevLoop(options: DevLoopOptions): Promise<void> {
  const { client, fn, report } = options;
  const debounceMs = options.debounceMs ?? 30;
  let firstChangeAt: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  let deploying: Promise<void> | undefined;
  let again = false;
  let logs: Promise<{ destroy(): void }> | undefined;
  let stopped = false;

  const deploy = async (): Promise<void> => {
    const changedAt = firstChangeAt;
    firstChangeAt = undefined;
    try {
      const result = await deployOne(client, fn, (text) => report({ type: "progress", text }));
      report({
        type: "deployed",
        result,
        sinceChangeMs: changedAt === undefined ? undefined : performance.now() - changedAt,
      });
      // Followed beside the deploys, never in their way: a stream that opens slowly (or not
      // at all) must not hold up the next save's deploy.
      logs ??= followLogs(client, fn.name, (line) => report({ type: "log", line })).catch(() => ({
        destroy: () => undefined,
      }));
    } catch (error) {
      // A broken edit fails its deploy; the previous revision keeps serving, and the next
      // change is tried again.
      report({ type: "failed", error });
    }
  };
  /** One deploy at a time; changes during one make exactly one more. */
  const schedule = (): void => {
    if (stopped) {
      return;
    }
    if (deploying) {
      again = true;
      return;
    }
    deploying = deploy().finally(() => {
      deploying = undefined;
      if (again) {
        again = false;
        firstChangeAt ??= performance.now();
        schedule();
      }
    });
  };

  schedule();
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(fn.source, { recursive: true }, (_event, file) => {
      const path = typeof file === "string" ? file : "";
      if (path.split(/[\\/]/).some((part) => ignoredParts.has(part))) {
        return;
      }
      firstChangeAt ??= performance.now();
      clearTimeout(timer);
      timer = setTimeout(schedule, debounceMs);
    });
    await options.stop;
  } finally {
    stopped = true;
    clearTimeout(timer);
    watcher?.close();
    await deploying;
    (await logs)?.destroy();
  }
}

/** Follows new log lines of `name` (NDJSON from the API) until destroyed. */
async function followLogs(
  client: GatewayClient,
  name: string,
  onLine: (line: { callId?: string; stream: string; text: string }) => void,
): Promise<{ destroy(): void }> {
  // Lines from now on: what the function printed before `runlet dev` started is not news.
  const since = new Date().toISOString();
  const response = await client.raw(
    "GET",
    `/api/v1/functions/${encodeURIComponent(name)}/logs?follow=true&since=${encodeURIComponent(since)}`,
  );
  if (response.status >= 400) {
    response.body.resume();
    return { destroy: () => undefined };
  }
  onLines(response.body, (text) => {
    if (!text) {
      return;
    }
    onLine(JSON.parse(text) as { callId?: string; stream: string; text: string });
  });
  response.body.on("error", () => undefined);
  return { destroy: () => response.body.destroy() };
}
