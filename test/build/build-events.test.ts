import { describe, expect, it } from "vitest";
import { step, type BuildEvent } from "../../src/build/build-events.js";
import { formatBuildEvent } from "../../src/cli/deploy-progress.js";

describe("build steps", () => {
  it("report a quiet step as still running until it ends, and the CLI says so", async () => {
    const events: BuildEvent[] = [];
    const result = await step(
      (event) => events.push(event),
      "go build",
      undefined,
      () => new Promise((resolve) => setTimeout(() => resolve("built"), 200)),
      20,
    );
    expect(result).toBe("built");
    const statuses = events.map((e) => (e.type === "step" ? e.status : e.type));
    expect(statuses[0]).toBe("start");
    expect(statuses.at(-1)).toBe("done");
    expect(statuses).toContain("running");
    const running = events.find((e) => e.type === "step" && e.status === "running");
    expect(running && formatBuildEvent(running)).toMatch(/^… go build still running \(\d+ms\)$/);
    // Nothing more once the step is over.
    const count = events.length;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(events.length).toBe(count);
  });
});
