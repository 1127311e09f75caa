import { describe, expect, it } from "vitest";
import { runtimes } from "../../src/spec/function-spec.js";
import { suggestRuntime } from "../../src/spec/suggest.js";

describe("suggestRuntime", () => {
  it("maps other platforms' names and versioned names to a runtime", () => {
    expect(suggestRuntime("nodejs", runtimes)).toBe("node");
    expect(suggestRuntime("nodejs20", runtimes)).toBe("node");
    expect(suggestRuntime("node20", runtimes)).toBe("node");
    expect(suggestRuntime("python3", runtimes)).toBe("python");
    expect(suggestRuntime("python3.12", runtimes)).toBe("python");
    expect(suggestRuntime("golang", runtimes)).toBe("go");
    expect(suggestRuntime("TS", runtimes)).toBe("typescript");
  });

  it("catches typos but not unrelated words", () => {
    expect(suggestRuntime("pyhton", runtimes)).toBe("python");
    expect(suggestRuntime("noed", runtimes)).toBe("node");
    expect(suggestRuntime("typscript", runtimes)).toBe("typescript");
    expect(suggestRuntime("ruby", runtimes)).toBeUndefined();
    expect(suggestRuntime("cobol", runtimes)).toBeUndefined();
    expect(suggestRuntime(42, runtimes)).toBeUndefined();
  });
});
