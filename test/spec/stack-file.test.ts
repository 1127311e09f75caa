import { describe, expect, it } from "vitest";
import { isUserError } from "../../src/errors.js";
import { parseStackFile } from "../../src/spec/stack-file.js";
import { formatDuration, parseDuration, parseSize } from "../../src/spec/units.js";

function problemsOf(text: string): string {
  try {
    parseStackFile(text, "runlet.yaml");
  } catch (error) {
    if (isUserError(error)) {
      return error.message;
    }
    throw error;
  }
  throw new Error("expected the stack file to be refused");
}

describe("stack file", () => {
  it("says what a misspelled key was meant to be, and that functions: is required", () => {
    const message = problemsOf("version: 1\nfunction:\n  hello:\n    runtime: node\n");
    expect(message).toContain("runlet.yaml:1: functions: required: list your functions under it");
    expect(message).toContain(
      'runlet.yaml:2: Unrecognized key: "function" (did you mean functions?)',
    );
    expect(
      problemsOf("version: 1\nfunctions:\n  hello:\n    runtime: node\n    timout: 5s\n"),
    ).toContain(
      'runlet.yaml:5: functions.hello: Unrecognized key: "timout" (did you mean timeout?)',
    );
  });

  it("reads functions with sources relative to the file", () => {
    const stack = parseStackFile(
      "version: 1\nfunctions:\n  hello:\n    runtime: node\n    source: ./src/hello\n    env: { A: b }\n    scale: { min: 1 }\n",
      "/app/runlet.yaml",
    );
    expect(stack.functions).toEqual([
      {
        name: "hello",
        source: "/app/src/hello",
        sourceImplied: false,
        spec: { runtime: "node", env: { A: "b" }, scale: { min: 1 } },
      },
    ]);
  });

  it("reports every schema problem with its line", () => {
    const message = problemsOf(
      [
        "version: 1",
        "functions:",
        "  good:",
        "    runtime: node",
        "  Bad_Name:",
        "    runtime: node",
        "  other:",
        "    runtime: cobol",
        "    timeout: forever",
        "    memroy: 128Mi",
      ].join("\n"),
    );
    expect(message).toContain("4 problems");
    expect(message).toMatch(/runlet\.yaml:5: functions\.Bad_Name: "Bad_Name" is not a valid name/);
    expect(message).toMatch(/runlet\.yaml:8: functions\.other\.runtime: unknown runtime "cobol"/);
    expect(message).toMatch(/runlet\.yaml:9: functions\.other\.timeout: expected a duration/);
    expect(message).toMatch(/runlet\.yaml:10: functions\.other: Unrecognized key: "memroy"/);
  });

  it("reports YAML syntax errors with their line", () => {
    const message = problemsOf(
      "version: 1\nfunctions:\n  hello:\n    runtime: node\n   bad indent: [\n",
    );
    expect(message).toMatch(/runlet\.yaml:5:/);
  });

  it("requires version 1", () => {
    expect(problemsOf("version: 2\nfunctions: {}\n")).toMatch(
      /runlet\.yaml:1: version: version must be 1/,
    );
  });
});

describe("units", () => {
  it("parses durations and sizes", () => {
    expect(parseDuration("10s")).toBe(10_000);
    expect(parseDuration("1m30s")).toBe(90_000);
    expect(parseDuration("250ms")).toBe(250);
    expect(parseDuration(5)).toBe(5000);
    expect(parseDuration("soon")).toBeUndefined();
    expect(parseDuration("10x")).toBeUndefined();
    expect(parseSize("128Mi")).toBe(128 * 1024 * 1024);
    expect(parseSize("1G")).toBe(1e9);
    expect(parseSize("lots")).toBeUndefined();
    expect(formatDuration(300_000)).toBe("5m");
    expect(formatDuration(1500)).toBe("1500ms");
  });
});
