/**
 * The provider contract (src/provider/types.ts) as one set of cases that every provider runs:
 * the local provider, the TCP process provider (the shape a pod has), and the Kubernetes
 * provider once it exists. Real runtime servers and real handlers throughout: what passes
 * here is what the executor and router may rely on, whatever runs the instances.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isUserError } from "../../../src/errors.js";
import type {
  Instance,
  InvocationResponse,
  LogLine,
  Provider,
  ProviderContext,
  SpecializeRequest,
  StartInstanceOptions,
} from "../../../src/provider/types.js";

export interface ContractSubject {
  /** Makes the provider under test with the given context. */
  readonly create: (context: ProviderContext) => Promise<Provider>;
  /** Whether it keeps warm pools (then a second start of a shape may come from one). */
  readonly pools: boolean;
}

/** Handlers the cases deploy, one package each. */
const handlers = {
  hello: `export default async (event, context) => {
    console.log("hello from " + context.callId);
    return { message: "hi " + (event.query.name ?? "there"), secret: context.secret("token") };
  };`,
  stream: `export default async () => (async function* () {
    for (let i = 0; i < 3; i += 1) { yield "part " + i + "\\n"; await new Promise((r) => setTimeout(r, 50)); }
  })();`,
  slow: `export default async (event, context) => {
    await new Promise((resolve) => { context.signal.addEventListener("abort", resolve); });
    console.log("cancelled " + context.callId);
    return "cancelled";
  };`,
  hang: `export default async () => { for (;;) {} };`,
  crash: `export default async () => { setTimeout(() => process.exit(3), 5); return new Promise(() => {}); };`,
  hog: `const kept = [];
  export default async () => { for (let i = 0; ; i += 1) { kept.push(new Array(1_000_000).fill(i + 0.5)); await new Promise((r) => setImmediate(r)); } };`,
  syntax: `export default async () => {\n  return 1 +;\n};`,
} as const;

type HandlerName = keyof typeof handlers;

interface Fixture {
  readonly provider: Provider;
  readonly logs: LogLine[];
  start(overrides?: Partial<StartInstanceOptions>): Promise<Instance>;
  specialize(
    instance: Instance,
    handler: HandlerName,
    overrides?: Partial<SpecializeRequest>,
  ): Promise<void>;
}

async function body(response: InvocationResponse): Promise<string> {
  if (Buffer.isBuffer(response.body)) {
    return response.body.toString("utf8");
  }
  const chunks: Buffer[] = [];
  for await (const chunk of response.body as Readable) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function call(
  instance: Instance,
  path: string,
  callId: string,
  signal = new AbortController().signal,
) {
  return instance.invoke({
    method: "GET",
    path,
    headers: { "x-call-id": callId },
    body: undefined,
    signal,
  });
}

async function eventually<T>(probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error("condition not met in time");
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export function describeProviderContract(name: string, subject: ContractSubject): void {
  describe(`provider contract: ${name}`, () => {
    let packagesDir: string;
    let fixture: Fixture;
    const instances: Instance[] = [];

    beforeAll(async () => {
      packagesDir = await mkdtemp(join(tmpdir(), "runlet-contract-"));
      for (const [handler, source] of Object.entries(handlers)) {
        await mkdir(join(packagesDir, handler), { recursive: true });
        await writeFile(join(packagesDir, handler, "index.js"), source);
      }
      const logs: LogLine[] = [];
      const provider = await subject.create({
        packages: { localPath: (digest) => join(packagesDir, digest) },
        secrets: {
          reveal: (names) =>
            Object.fromEntries(names.map((n) => [n, { [n]: Buffer.from(`value of ${n}`) }])),
        },
        configs: { reveal: () => ({}) },
        onLog: (line) => logs.push(line),
        onError: (error) => {
          throw error;
        },
      });
      fixture = {
        provider,
        logs,
        start: async (overrides = {}) => {
          const started = await provider.start({
            runtime: "node",
            network: "none",
            memoryBytes: 256 * 2 ** 20,
            cpu: undefined,
            onLog: (line) => logs.push(line),
            ...overrides,
          });
          instances.push(started.instance);
          return started.instance;
        },
        specialize: (instance, handler, overrides = {}) =>
          instance.specialize({
            name: `fn-${handler}`,
            revision: "1",
            packageDigest: handler,
            handler: "index.js",
            env: {},
            secrets: ["token"],
            configs: [],
            timeoutMs: 10_000,
            concurrency: 10,
            compat: undefined,
            command: undefined,
            mode: "http",
            ...overrides,
          }),
      };
    });

    afterAll(async () => {
      await Promise.all(instances.map((instance) => instance.stop()));
      await fixture?.provider.close();
      await rm(packagesDir, { recursive: true, force: true });
    });

    it("starts a generic instance that is running and has an id", async () => {
      const instance = await fixture.start();
      expect(instance.id).toMatch(/\S/);
      expect(instance.runtime).toBe("node");
      expect(instance.exitInfo).toBeUndefined();
    });

    it("keeps warm instances when it has pools, and says which start came from one", async () => {
      const pooledShape: StartInstanceOptions = {
        runtime: "node",
        network: "outbound",
        memoryBytes: 256 * 2 ** 20,
        cpu: undefined,
        onLog: (line) => fixture.logs.push(line),
      };
      const first = await fixture.provider.start(pooledShape);
      instances.push(first.instance);
      if (!subject.pools) {
        expect(first.fromPool).toBe(false);
        expect(fixture.provider.poolStatus()).toEqual([]);
        return;
      }
      // A start that took a pool's instance has it refilled once the function is loaded (a
      // provider may refill sooner): load one, as the executor always does.
      await fixture.specialize(first.instance, "hello");
      // A pool fills in the background: a process or pod started and warmed up, which on a
      // loaded machine takes well over the usual wait (within the test's own 60 s).
      const status = await eventually(
        () =>
          fixture.provider.poolStatus().find((pool) => pool.runtime === "node" && pool.idle > 0),
        40_000,
      );
      expect(status.size).toBeGreaterThan(0);
      const second = await fixture.provider.start(pooledShape);
      instances.push(second.instance);
      expect(second.fromPool).toBe(true);
    });

    it("specializes by package digest and secret names, and invokes", async () => {
      const instance = await fixture.start();
      await fixture.specialize(instance, "hello");
      const response = await call(instance, "/?name=Ada", "call-hello");
      expect(response.status).toBe(200);
      expect(JSON.parse(await body(response))).toEqual({
        message: "hi Ada",
        secret: "value of token",
      });
    });

    it("tags a function's log lines with the call that wrote them", async () => {
      const instance = await fixture.start();
      await fixture.specialize(instance, "hello");
      await body(await call(instance, "/", "call-logged"));
      const line = await eventually(() =>
        fixture.logs.find((entry) => entry.text.includes("hello from call-logged")),
      );
      expect(line).toMatchObject({
        instanceId: instance.id,
        functionName: "fn-hello",
        callId: "call-logged",
        stream: "stdout",
      });
    });

    it("refuses a handler with a syntax error, naming file and line", async () => {
      const instance = await fixture.start();
      const error: unknown = await fixture.specialize(instance, "syntax").catch((e: unknown) => e);
      expect(isUserError(error)).toBe(true);
      expect(error).toMatchObject({
        code: "RUNLET_HANDLER_SYNTAX",
        details: { file: "index.js", line: 2 },
      });
    });

    it("streams an answer as the handler produces it", async () => {
      const instance = await fixture.start();
      await fixture.specialize(instance, "stream");
      const response = await call(instance, "/", "call-stream");
      expect(response.status).toBe(200);
      expect(Buffer.isBuffer(response.body)).toBe(false);
      const parts: string[] = [];
      for await (const chunk of response.body as Readable) {
        parts.push((chunk as Buffer).toString("utf8"));
      }
      expect(parts.join("")).toBe("part 0\npart 1\npart 2\n");
      // Sent as produced: more than one piece arrived.
      expect(parts.length).toBeGreaterThan(1);
    });

    it("cancels a call in the instance (the handler's signal fires) and keeps serving", async () => {
      const instance = await fixture.start();
      await fixture.specialize(instance, "slow");
      const controller = new AbortController();
      const pending = call(instance, "/", "call-cancelled", controller.signal).then(
        body,
        (error: unknown) => error,
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      controller.abort(new Error("caller went away"));
      await pending;
      await eventually(() =>
        fixture.logs.find((entry) => entry.text.includes("cancelled call-cancelled")),
      );
      expect(instance.exitInfo).toBeUndefined();
    });

    it("stops an instance whose handler hangs past its timeout (a busy loop), reporting it killed", async () => {
      const instance = await fixture.start();
      await fixture.specialize(instance, "hang", { timeoutMs: 300 });
      const controller = new AbortController();
      const pending = call(instance, "/", "call-hung", controller.signal).catch((e: unknown) => e);
      // What the router does when the function's timeout passes: cancel, then replace.
      setTimeout(() => controller.abort(new Error("timed out")), 300);
      expect(await pending).toBeInstanceOf(Error);
      const started = Date.now();
      await instance.stop();
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(instance.exitInfo?.kind).toBe("killed");
    });

    it("fails a call when the instance crashes under it, and names the exit", async () => {
      const instance = await fixture.start();
      await fixture.specialize(instance, "crash");
      const failure = await call(instance, "/", "call-crash").then(body, (error: unknown) => error);
      expect(failure).toBeInstanceOf(Error);
      const exit = await instance.exitCausing(failure);
      expect(exit).toMatchObject({ kind: "exited" });
      expect(exit?.message).toContain("code 3");
      expect(await instance.exited).toEqual(exit);
    });

    it("names an instance that went over its memory limit as out of memory", async () => {
      const instance = await fixture.start({ memoryBytes: 96 * 2 ** 20 });
      await fixture.specialize(instance, "hog");
      await call(instance, "/", "call-hog").then(body, (error: unknown) => error);
      const exit = await instance.exited;
      expect(exit.kind).toBe("out-of-memory");
      expect(exit.message).toContain("96");
    }, 60_000);

    it("stops an instance: it is gone, reported killed, and takes no more calls", async () => {
      const instance = await fixture.start();
      await fixture.specialize(instance, "hello");
      await instance.stop();
      expect(instance.exitInfo?.kind).toBe("killed");
      await expect(call(instance, "/", "call-after-stop")).rejects.toBeInstanceOf(Error);
    });
  });
}
