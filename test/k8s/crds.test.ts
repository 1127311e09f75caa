// Runlet's CRDs (deploy/crds/) on a real API server (kwok cluster): applied server-side, a valid Function accepted, invalid ones refused with the schema's message; revisions immutable; createRevision under racing writers.
import { randomBytes } from "node:crypto";
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  fieldManagers,
  kinds,
  runletApiVersion,
  runletGroup,
  runletVersion,
} from "../../src/kubernetes/names.js";
import { createRevision } from "../../src/kubernetes/revisions.js";
import { fieldMessages } from "../../src/spec/function-spec.js";
import { buildControlPlane } from "./cluster/binaries.js";
import { startTestCluster, type TestCluster } from "./cluster/test-cluster.js";
import { applyRunletCrds } from "./cluster/runlet-crds.js";

const BUILD_AND_START_TIMEOUT_MS = 60 * 60_000;
const STEP_TIMEOUT_MS = 120_000;
const digest = `sha256:${"a".repeat(64)}`;

let cluster: TestCluster | undefined;
let kc: KubeConfig | undefined;
let namespace = "";

beforeAll(async () => {
  cluster = await startTestCluster({ binaries: await buildControlPlane() });
  kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  await applyRunletCrds(cluster);
  namespace = `crds-${randomBytes(3).toString("hex")}`;
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
}, BUILD_AND_START_TIMEOUT_MS);

afterAll(async () => {
  await cluster?.stop();
}, STEP_TIMEOUT_MS);

function api(): CustomObjectsApi {
  if (!kc) {
    throw new Error("the test cluster did not start (see the beforeAll error)");
  }
  return kc.makeApiClient(CustomObjectsApi);
}

function createFunction(name: string, spec: Record<string, unknown>): Promise<unknown> {
  return api().createNamespacedCustomObject({
    group: runletGroup,
    version: runletVersion,
    namespace,
    plural: kinds.function.plural,
    // Strict, as kubectl's default: an unknown field is refused, not dropped.
    fieldValidation: "Strict",
    body: { apiVersion: runletApiVersion, kind: "Function", metadata: { name }, spec },
  });
}

/** The API server's message for a refused request (the Status in the body of its 4xx). */
async function refusal(request: Promise<unknown>): Promise<string> {
  try {
    await request;
  } catch (error) {
    const body = (error as { body?: unknown }).body;
    if (typeof body !== "string") {
      throw error;
    }
    return (JSON.parse(body) as { message: string }).message;
  }
  throw new Error("the API server accepted it");
}

describe("Runlet's CRDs on the API server", () => {
  it("accepts a valid Function, shows its printer columns, and takes a status through the subresource", async () => {
    const created = (await createFunction("hello", {
      runtime: "node",
      handler: "index.js",
      package: digest,
      env: { GREETING: "hi" },
      secrets: ["api-key"],
      memory: "128Mi",
      cpu: "0.5",
      timeout: "10s",
      scale: { min: 0, max: 3, idleTimeout: 300 },
      network: "host",
      auth: "required",
      triggers: [{ http: "GET /hello" }, { cron: "@every 30s", tz: "UTC" }],
    })) as { metadata: { generation: number } };
    expect(created.metadata.generation).toBe(1);

    // The operator's part of the status, by server-side apply on the status subresource.
    await api().patchNamespacedCustomObjectStatus(
      {
        group: runletGroup,
        version: runletVersion,
        namespace,
        plural: kinds.function.plural,
        name: "hello",
        fieldManager: fieldManagers.operator,
        force: true,
        body: {
          apiVersion: runletApiVersion,
          kind: "Function",
          metadata: { name: "hello" },
          status: {
            observedGeneration: 1,
            activeRevision: 1,
            latestRevision: 1,
            replicas: 0,
            conditions: [
              {
                type: "Ready",
                status: "True",
                reason: "Serving",
                message: "revision 1 serves",
                lastTransitionTime: new Date().toISOString(),
              },
            ],
          },
        },
      },
      setHeaderOptions("Content-Type", PatchStrategy.ServerSideApply),
    );
    const table = await cluster?.kubectl(["get", "rfn", "-n", namespace]);
    expect(table).toMatch(/NAME\s+RUNTIME\s+READY\s+REVISION\s+AGE/);
    expect(table).toMatch(/hello\s+node\s+True\s+1\s+/);
  });

  it("refuses an unknown runtime, listing the known ones", async () => {
    const message = await refusal(
      createFunction("bad-runtime", { runtime: "rust", handler: "main.rs", package: digest }),
    );
    expect(message).toMatch(/spec\.runtime/);
    expect(message).toMatch(/Unsupported value: "rust"/);
    expect(message).toMatch(/"node", "typescript", "python", "exec", "go", "java"/);
  });

  it("refuses a memory size that is not a quantity, with the stack file's message", async () => {
    const message = await refusal(
      createFunction("bad-memory", {
        runtime: "node",
        handler: "index.js",
        package: digest,
        memory: "lots",
      }),
    );
    expect(message).toMatch(/spec\.memory/);
    expect(message).toContain(`spec.memory: Invalid value: "lots": ${fieldMessages.size}`);
  });

  it("refuses a Function without a handler, saying what a handler is", async () => {
    const message = await refusal(
      createFunction("no-handler", { runtime: "python", package: digest }),
    );
    expect(message).toContain("handler is required");
  });

  it("refuses bad durations, cores, env names, secret names, network values and unknown fields", async () => {
    const base = { runtime: "node", handler: "index.js", package: digest };
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ timeout: "soon" }, /expected a duration/],
      [{ cpu: "lots" }, /expected cores/],
      [{ cpu: 0 }, /expected cores/],
      [{ env: { "1BAD": "x" } }, /environment variable names/],
      [{ secrets: ["Not_A_Label"] }, /secret names are DNS-1123 labels/],
      [{ triggers: [{ http: "GET /a", cron: "@daily" }] }, /a trigger is one of/],
      [{ triggers: [{ cron: "@daily", weight: 3 }] }, /a cron trigger has only the keys cron, tz/],
      [{ package: "latest" }, /spec\.package/],
      [{ colour: "blue" }, /strict decoding error: unknown field "spec\.colour"/],
    ];
    for (const [change, expected] of cases) {
      const message = await refusal(
        createFunction(`bad-${randomBytes(2).toString("hex")}`, { ...base, ...change }),
      );
      expect(message, JSON.stringify(change)).toMatch(expected);
    }
  });

  it("makes revisions with createRevision: numbers in order under racing writers, immutable, idempotent with reuseLatest", async () => {
    const fn = (await createFunction("racing", {
      runtime: "node",
      handler: "index.js",
      package: digest,
    })) as { metadata: { uid: string } };
    const owner = { name: "racing", uid: fn.metadata.uid };
    const snapshot = { runtime: "node" as const, handler: "index.js", package: digest };
    // Eight writers at once, each with its own client (as replicas are): every one gets its
    // own number, and the numbers are 1..8 with none skipped.
    const made = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        createRevision({
          api: api(),
          namespace,
          owner,
          snapshot,
          hash: i.toString(16).padStart(64, "0"),
          fieldManager: "runlet-gateway",
        }),
      ),
    );
    expect(made.map((r) => r.spec.revision).sort((a, b) => a - b)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8,
    ]);
    expect(new Set(made.map((r) => r.metadata.name)).size).toBe(8);
    expect(made.every((r) => r.metadata.ownerReferences?.[0]?.uid === owner.uid)).toBe(true);

    // Reconciling twice, or two operators at once, with the newest revision's hash: no new one.
    const newest = made.find((r) => r.spec.revision === 8);
    const again = await Promise.all(
      [1, 2].map(() =>
        createRevision({
          api: api(),
          namespace,
          owner,
          snapshot,
          hash: newest?.spec.hash ?? "",
          fieldManager: "runlet-operator",
          reuseLatest: true,
        }),
      ),
    );
    expect(again.map((r) => r.spec.revision)).toEqual([8, 8]);

    // A revision's spec cannot change.
    const message = await refusal(
      api().patchNamespacedCustomObject(
        {
          group: runletGroup,
          version: runletVersion,
          namespace,
          plural: kinds.revision.plural,
          name: "racing-r1",
          body: [{ op: "replace", path: "/spec/spec/handler", value: "other.js" }],
        },
        setHeaderOptions("Content-Type", PatchStrategy.JsonPatch),
      ),
    );
    expect(message).toContain("a FunctionRevision is immutable");

    const listed = await cluster?.kubectl(["get", "rfnrev", "-n", namespace]);
    expect(listed).toMatch(/NAME\s+FUNCTION\s+REVISION\s+RUNTIME\s+AGE/);
    expect(listed).toMatch(/racing-r8\s+racing\s+8\s+node/);
  });
});
