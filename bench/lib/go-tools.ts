/**
 * Go binaries the warm-path benchmark puts in front of the raw handler, built once into a cache
 * outside the repository (~/.cache/runlet/bench/bin): OpenFaaS of-watchdog from the Go module
 * proxy, and a plain net/http reverse proxy from bench/fixtures/go-proxy as a stand-in for it
 * when the module proxy will not serve of-watchdog.
 */
import { execFile } from "node:child_process";
import { access, mkdir } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
export const binDir = join(homedir(), ".cache", "runlet", "bench", "bin");
export const ofWatchdogModule = "github.com/openfaas/of-watchdog";
/** The version asked for; "latest" lets the module proxy pick the newest release. */
export const ofWatchdogVersion = process.env.RUNLET_BENCH_OF_WATCHDOG_VERSION ?? "latest";

export type Built =
  { readonly ok: true; readonly path: string } | { readonly ok: false; readonly reason: string };

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

function firstLines(error: unknown): string {
  const stderr =
    typeof error === "object" && error !== null && "stderr" in error ? String(error.stderr) : "";
  const text = stderr.trim() || (error instanceof Error ? error.message : String(error));
  return text.split("\n").slice(0, 3).join(" ");
}

/** `go install github.com/openfaas/of-watchdog@VERSION` into the cache; a no-op once built. */
export async function ensureOfWatchdog(): Promise<Built> {
  const path = join(binDir, "of-watchdog");
  if (await exists(path)) {
    return { ok: true, path };
  }
  await mkdir(binDir, { recursive: true });
  try {
    await run("go", ["install", `${ofWatchdogModule}@${ofWatchdogVersion}`], {
      env: { ...process.env, GOBIN: binDir, GOFLAGS: "-mod=mod" },
      cwd: binDir,
      timeout: 240_000,
    });
    return { ok: true, path };
  } catch (error) {
    return { ok: false, reason: firstLines(error) };
  }
}

/** Builds bench/fixtures/go-proxy (standard library only, so no download). */
export async function ensureGoProxy(): Promise<Built> {
  const path = join(binDir, "go-proxy");
  if (await exists(path)) {
    return { ok: true, path };
  }
  await mkdir(binDir, { recursive: true });
  try {
    await run("go", ["build", "-o", path, "."], {
      cwd: fileURLToPath(new URL("../fixtures/go-proxy/", import.meta.url)),
      env: { ...process.env, GOFLAGS: "-mod=mod" },
      timeout: 240_000,
    });
    return { ok: true, path };
  } catch (error) {
    return { ok: false, reason: firstLines(error) };
  }
}
