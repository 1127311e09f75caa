// Applies Runlet's CRDs (deploy/crds/) to a test cluster as a user does, and waits until they serve.
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { kinds, runletGroup } from "../../../src/kubernetes/names.js";
import type { TestCluster } from "./test-cluster.js";
import { pollUntil } from "./wait.js";

export const crdDir = join(import.meta.dirname, "..", "..", "..", "deploy", "crds");

/** `kubectl apply --server-side -f deploy/crds/`, then Established, then listable. */
export async function applyRunletCrds(cluster: TestCluster, timeoutMs = 120_000): Promise<void> {
  await cluster.kubectl(["apply", "--server-side", "-f", crdDir]);
  await cluster.kubectl([
    "wait",
    "--for=condition=Established",
    `--timeout=${Math.round(timeoutMs / 1000)}s`,
    ...(await readdir(crdDir))
      .filter((f) => f.endsWith(".yaml"))
      .map((f) => `crd/${f.replace(/\.yaml$/, "")}`),
  ]);
  // Established comes a moment before each resource's storage serves lists (429 until then).
  for (const kind of Object.values(kinds)) {
    await pollUntil(
      `${kind.plural} to be listed`,
      () => cluster.kubectl(["get", `${kind.plural}.${runletGroup}`, "-A"]),
      { timeoutMs },
    );
  }
}
