import { describe, expect, it } from "vitest";
import { parseStackFile } from "../../src/spec/stack-file.js";
import { parseRoute, parseSchedule } from "../../src/spec/trigger-spec.js";

describe("trigger spec", () => {
  it("parses routes and says why a route is bad", () => {
    expect(parseRoute("get /a/{id}/*")).toMatchObject({
      method: "GET",
      prefix: true,
      text: "GET /a/{id}/*",
    });
    expect(parseRoute("ANY /*")).toMatchObject({ segments: [], prefix: true, text: "ANY /*" });
    expect(parseRoute("/a")).toContain('expected "METHOD /path"');
    expect(parseRoute("FETCH /a")).toContain('unknown method "FETCH"');
    expect(parseRoute("GET a")).toContain('must start with "/"');
    expect(parseRoute("GET /")).toContain("platform's own page");
    expect(parseRoute("GET /a//b")).toContain("empty segment");
    expect(parseRoute("GET /a/{id}/{id}")).toContain("appears twice");
    expect(parseRoute("GET /a/{1x}")).toContain("not a valid parameter");
    expect(parseRoute("GET /a/*/b")).toContain('"*" may only be the last segment');
    expect(parseRoute("GET /a/x{id}")).toContain("not a valid path segment");
    expect(parseRoute("POST /function/x")).toContain("/function is a platform path");
    expect(parseRoute("GET /metrics/*")).toContain("/metrics is a platform path");
  });

  it("parses schedules and says why a schedule is bad", () => {
    expect(parseSchedule("@every 30s")).toEqual({ kind: "every", intervalMs: 30_000 });
    expect(parseSchedule("*/5 * * * *", "Europe/Berlin")).toMatchObject({ kind: "cron" });
    expect(parseSchedule("@daily")).toMatchObject({ kind: "cron" });
    expect(parseSchedule("@sometimes")).toContain("unknown schedule");
    expect(parseSchedule("0 0 * * * *")).toContain("has 6");
    expect(parseSchedule("0 9 * * *", "Nowhere/City")).toContain("unknown time zone");
  });

  it("reports a bad trigger in runlet.yaml with its line", () => {
    const text = [
      "version: 1",
      "functions:",
      "  hello:",
      "    runtime: node",
      "    triggers:",
      "      - http: GET /hello/{who}",
      "      - cron: '* * *'",
      "      - nats: orders..created",
      "      - queue: nope",
      "",
    ].join("\n");
    expect(() => parseStackFile(text, "runlet.yaml")).toThrow(
      [
        "runlet.yaml has 3 problems:",
        '  runlet.yaml:7: functions.hello.triggers.1.cron: a cron schedule has 5 fields (minute hour day-of-month month day-of-week), "* * *" has 3',
        '  runlet.yaml:8: functions.hello.triggers.2.nats: "orders..created" is not a NATS subject: dot-separated tokens, "*" for one token, ">" as the last',
        '  runlet.yaml:9: functions.hello.triggers.3: a trigger is one of {http: "GET /path"}, {cron: "*/5 * * * *", tz?} or {nats: "subject"}',
      ].join("\n"),
    );
    const parsed = parseStackFile(text.split("\n").slice(0, 6).join("\n"), "runlet.yaml");
    expect(parsed.functions[0]?.spec.triggers).toEqual([{ http: "GET /hello/{who}" }]);
  });
});
