/**
 * Whether this host can sandbox what it runs (function instances and build tools) with
 * bubblewrap, found once by starting a sandbox the way a real one is started.
 */
import { spawnSync } from "node:child_process";
import { baseSandboxArgs, bubblewrapLauncher, buildUser, scratchMounts } from "./bubblewrap.js";

export type SandboxKind = "bubblewrap" | "none";

export interface SandboxSupport {
  readonly kind: SandboxKind;
  /** Why there is no sandbox, when there is none. */
  readonly reason?: string;
}

export function detectSandbox(): SandboxSupport {
  if (process.platform !== "linux") {
    return { kind: "none", reason: `${process.platform} has no Linux namespaces` };
  }
  // The probe runs what a real sandbox does (as the uid sandboxes use), so a host that
  // cannot give instances their own unprivileged user namespace is found here, not later.
  const [command = "bwrap", ...launcher] = bubblewrapLauncher(buildUser());
  const probe = spawnSync(
    command,
    [
      ...launcher,
      ...baseSandboxArgs({ shareNet: false }),
      ...scratchMounts(2 ** 20),
      "--remount-ro",
      "/",
      "true",
    ],
    { encoding: "utf8", timeout: 10_000 },
  );
  if (probe.error) {
    return {
      kind: "none",
      reason:
        "bubblewrap (bwrap) is not installed; install it (apt-get install bubblewrap) to sandbox instances",
    };
  }
  if (probe.status !== 0) {
    return {
      kind: "none",
      reason: `bubblewrap cannot create namespaces here (${probe.stderr.trim() || `exit ${probe.status}`})`,
    };
  }
  return { kind: "bubblewrap" };
}
