import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  eventually,
  startBuildRunlet,
  startTestRunlet,
  type TestRunlet,
} from "../helpers/runlet.js";

// Functions without a pom.xml: compiled with javac alone at deploy, so these tests need no Maven.
const shapes = `
import dev.runlet.*;
import java.util.*;

public class Handler implements Function {
  record Point(int x, int y) {}

  public Object handle(Event event, Context context) throws Exception {
    System.out.println("serving " + event.path() + " for " + context.callId());
    switch (event.path()) {
      case "/text": return "plain " + System.getenv("GREETING");
      case "/bytes": return new byte[] {1, 2, 3};
      case "/none": return null;
      case "/record": return new Point(1, 2);
      case "/response": return Response.status(201).withHeader("X-Kind", "made").withBody(List.of(event.query("a"), event.bodyText()));
      case "/boom": throw new IllegalStateException("no such order");
      case "/slow": Thread.sleep(5000); return "late";
      default: return Map.of("method", event.method(), "query", event.query());
    }
  }
}
`;

interface LogLine {
  readonly callId?: string;
  readonly text: string;
}

let runlet: TestRunlet;
beforeAll(async () => {
  runlet = await startBuildRunlet("runlet-java-");
});
afterAll(async () => {
  await runlet.close(2000);
  await rm(runlet.dataDir, { recursive: true, force: true });
});

async function logs(name: string): Promise<LogLine[]> {
  const text = await (await runlet.api(`/api/v1/functions/${name}/logs`)).text();
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as LogLine);
}

describe("java runtime", () => {
  it("turns return values into answers, tags log lines with the call id, and names a handler's exception", async () => {
    const deployed = await runlet.deploy(
      "j-shapes",
      { "Handler.java": shapes },
      { runtime: "java", env: { GREETING: "hi" }, timeout: "2s" },
    );
    expect(deployed.status, await deployed.clone().text()).toBe(201);
    const call = (path: string, init?: RequestInit): Promise<Response> =>
      fetch(`${runlet.url}/function/j-shapes${path}`, init);

    const text = await call("/text");
    expect(text.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await text.text()).toBe("plain hi");
    expect(await (await call("/json?a=1&a=2")).json()).toEqual({
      method: "GET",
      query: { a: ["1", "2"] },
    });
    const bytes = await call("/bytes");
    expect(bytes.headers.get("content-type")).toBe("application/octet-stream");
    expect([...new Uint8Array(await bytes.arrayBuffer())]).toEqual([1, 2, 3]);
    expect((await call("/none")).status).toBe(204);
    expect(await (await call("/record")).json()).toEqual({ x: 1, y: 2 });
    const made = await call("/response?a=q", { method: "POST", body: "payload" });
    expect(made.status).toBe(201);
    expect(made.headers.get("x-kind")).toBe("made");
    expect(await made.json()).toEqual(["q", "payload"]);

    const boom = await call("/boom");
    expect(boom.status).toBe(500);
    expect(boom.headers.get("x-runlet-error")).toBe("handler");
    expect(await boom.json()).toEqual({
      error: {
        code: "RUNLET_HANDLER_ERROR",
        message: "java.lang.IllegalStateException: no such order",
      },
    });
    const slow = await call("/slow");
    expect(slow.status).toBe(504);

    const tagged = await call("/text", { headers: { "x-call-id": "call-java-1" } });
    expect(tagged.status).toBe(200);
    const line = await eventually(
      async () => (await logs("j-shapes")).find((l) => l.text === "serving /text for call-java-1"),
      { what: "the call's log line" },
    );
    expect(line.callId).toBe("call-java-1");
    const trace = await eventually(
      async () =>
        (await logs("j-shapes")).find((l) =>
          l.text.startsWith("java.lang.IllegalStateException: no such order"),
        ),
      { what: "the exception's stack trace in the logs" },
    );
    expect(trace.callId).toBeDefined();
  }, 120_000);

  it("fails a deploy naming file and line for compile and load errors; the old revision keeps serving", async () => {
    const good = `public class Handler implements dev.runlet.Function {
  public Object handle(dev.runlet.Event e, dev.runlet.Context c) { return "v1"; }
}
`;
    expect(
      (await runlet.deploy("j-load", { "Handler.java": good }, { runtime: "java" })).status,
    ).toBe(201);

    const compileError = await runlet.deploy(
      "j-load",
      { "Handler.java": good.replace('return "v1";', "return missing;") },
      { runtime: "java" },
    );
    expect(compileError.status).toBe(422);
    const compiled = (await compileError.json()) as { error: { code: string; message: string } };
    expect(compiled.error.code).toBe("RUNLET_BUILD_FAILED");
    expect(compiled.error.message).toContain("Handler.java:2: cannot find symbol");

    const throwing = `public class Handler implements dev.runlet.Function {
  static final String CONFIG = load();
  static String load() {
    throw new IllegalStateException("no config");
  }
  public Object handle(dev.runlet.Event e, dev.runlet.Context c) { return CONFIG; }
}
`;
    const loadError = await runlet.deploy(
      "j-load",
      { "Handler.java": throwing },
      { runtime: "java" },
    );
    expect(loadError.status, await loadError.clone().text()).toBe(400);
    const loaded = (await loadError.json()) as {
      error: { code: string; message: string; details?: { file?: string; line?: number } };
    };
    expect(loaded.error.code).toBe("RUNLET_HANDLER_LOAD_FAILED");
    expect(loaded.error.message).toContain(
      "Handler.java:4: java.lang.IllegalStateException: no config",
    );

    const notAFunction = await runlet.deploy(
      "j-load",
      { "Handler.java": "public class Handler { }\n" },
      { runtime: "java" },
    );
    expect(((await notAFunction.json()) as { error: { code: string } }).error.code).toBe(
      "RUNLET_HANDLER_NO_EXPORT",
    );
    const missing = await runlet.deploy(
      "j-load",
      { "Handler.java": good },
      { runtime: "java", handler: "app.Nope" },
    );
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe(
      "RUNLET_HANDLER_NOT_FOUND",
    );
    expect(await (await fetch(`${runlet.url}/function/j-load`)).text()).toBe("v1");
  }, 120_000);

  it("sizes the heap from the function's memory and names an instance that runs out of it", async () => {
    const hog = `import java.util.*;
public class Handler implements dev.runlet.Function {
  static final List<long[]> KEPT = new ArrayList<>();
  public Object handle(dev.runlet.Event e, dev.runlet.Context c) {
    if (e.query("hog") != null) { for (;;) { KEPT.add(new long[1 << 20]); } }
    return Runtime.getRuntime().maxMemory();
  }
}
`;
    const deployed = await runlet.deploy(
      "j-hog",
      { "Handler.java": hog },
      { runtime: "java", memory: "128Mi" },
    );
    expect(deployed.status, await deployed.clone().text()).toBe(201);
    const maxHeap = Number(await (await fetch(`${runlet.url}/function/j-hog`)).text());
    // 70% of 128 MiB, as the JVM rounds it.
    expect(maxHeap).toBeGreaterThan(80 * 2 ** 20);
    expect(maxHeap).toBeLessThan(100 * 2 ** 20);
    const killed = await fetch(`${runlet.url}/function/j-hog?hog=1`);
    expect(killed.status, await killed.clone().text()).toBe(502);
    expect(((await killed.json()) as { error: { message: string } }).error.message).toContain(
      "exceeded memory limit 128Mi",
    );
    expect(await (await fetch(`${runlet.url}/function/j-hog`)).text()).toBe(String(maxHeap));
  }, 120_000);
});

describe("java runtime from the warm pool", () => {
  it("specializes a generic JVM started before the function was deployed", async () => {
    const pooled = await startTestRunlet({ poolSize: 1 });
    try {
      // The first Java function starts the pool; the second is a cold start from it.
      const source = (word: string): Record<string, string> => ({
        "Handler.java": `public class Handler implements dev.runlet.Function {
  public Object handle(dev.runlet.Event e, dev.runlet.Context c) { return "${word}"; }
}
`,
      });
      expect((await pooled.deploy("j-one", source("one"), { runtime: "java" })).status).toBe(201);
      expect(await (await fetch(`${pooled.url}/function/j-one`)).text()).toBe("one");
      await eventually(
        async () =>
          pooled.platform.executor
            .poolStatus()
            .some((pool) => pool.runtime === "java" && pool.idle === 1) || undefined,
        { what: "a warm java instance" },
      );
      expect((await pooled.deploy("j-two", source("two"), { runtime: "java" })).status).toBe(201);
      expect(await (await fetch(`${pooled.url}/function/j-two`)).text()).toBe("two");
      // Its instance was a pooled JVM, specialized: not a JVM started for it (how fast that is
      // is measured in bench/java.ts, not here).
      const starts = pooled.platform.executor.status("j-two");
      expect(starts.reduce((sum, revision) => sum + revision.coldStartsFromPool, 0)).toBe(1);
      expect(starts.reduce((sum, revision) => sum + revision.coldStarts, 0)).toBe(1);
    } finally {
      await pooled.close(2000);
    }
  }, 120_000);
});
