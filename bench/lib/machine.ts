/** What the benchmarks ran on: machine, kernel, and the versions of everything measured. */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { cpus, freemem, loadavg, release, totalmem, type as osType } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { peerSources } from "./peers.js";

export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly freeMemoryGiB: number;
  readonly kernel: string;
  readonly loadAverage: readonly number[];
  readonly versions: Readonly<Record<string, string>>;
}

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

function packageVersion(name: string): string {
  try {
    // Read the file directly: package "exports" maps may hide package.json from require.resolve.
    const path =
      name === "runlet"
        ? join(repoRoot, "package.json")
        : join(repoRoot, "node_modules", name, "package.json");
    const parsed: unknown = JSON.parse(readFileSync(path, "utf8"));
    if (typeof parsed === "object" && parsed !== null && "version" in parsed) {
      return String(parsed.version);
    }
  } catch {
    // not installed
  }
  return "not installed";
}

function goVersion(): string {
  try {
    return execFileSync("go", ["env", "GOVERSION"], { encoding: "utf8" }).trim();
  } catch {
    return "not installed";
  }
}

function wrkVersion(): string {
  try {
    // wrk -v prints "wrk 4.1.0 [epoll] Copyright …" and exits non-zero.
    const output = execFileSync("sh", ["-c", "wrk -v 2>&1 || true"], { encoding: "utf8" });
    return /wrk (\S+)/.exec(output)?.[1] ?? "not installed";
  } catch {
    return "not installed";
  }
}

/** The peers' sources, or why they were not there. */
function peerVersions(): Record<string, string> {
  return Object.fromEntries(
    peerSources.map((p) => [p.name, existsSync(p.path) ? p.source : "not available"]),
  );
}

export function machineInfo(extraVersions: Readonly<Record<string, string>> = {}): MachineInfo {
  const cpuList = cpus();
  return {
    cpuModel: cpuList[0]?.model.trim() ?? "unknown",
    cores: cpuList.length,
    memoryGiB: totalmem() / 2 ** 30,
    freeMemoryGiB: freemem() / 2 ** 30,
    kernel: `${osType()} ${release()}`,
    loadAverage: loadavg(),
    versions: {
      Node: process.version,
      Runlet: packageVersion("runlet"),
      "faas-js-runtime (Knative Functions)": packageVersion("faas-js-runtime"),
      "@google-cloud/functions-framework": packageVersion("@google-cloud/functions-framework"),
      autocannon: packageVersion("autocannon"),
      wrk: wrkVersion(),
      Go: goVersion(),
      ...peerVersions(),
      ...extraVersions,
    },
  };
}
