/** `runlet deploy -f stack.yml`: an OpenFaaS stack file deploys unchanged. */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseStackFile } from "../../src/spec/stack-file.js";
import { runCli } from "../helpers/cli.js";
import { adminToken, startTestRunlet, tempDir } from "../helpers/runlet.js";

// As `faas-cli new --lang node20` writes it, with what the docs show for config.
const stackYml = `version: 1.0
provider:
  name: openfaas
  gateway: http://127.0.0.1:8080
functions:
  greet:
    lang: node20
    handler: ./greet
    image: ghcr.io/example/greet:latest
    environment:
      GREETING: Hello
      write_debug: true
    environment_file:
      - env.yml
    secrets:
      - api-key
    labels:
      com.openfaas.scale.min: "1"
      com.openfaas.scale.max: "4"
      team: web
    annotations:
      topic: greetings
    limits:
      memory: 128Mi
      cpu: 500m
`;

const handlerJs = `'use strict'

const fs = require('fs')

module.exports = async (event, context) => {
  const key = fs.readFileSync('/var/openfaas/secrets/api-key', 'utf8').trim()
  const result = {
    message: process.env.GREETING + ', ' + (event.query.name || 'world'),
    place: process.env.PLACE,
    keyLength: key.length,
  }

  return context
    .status(200)
    .headers({ 'Content-Type': 'application/json' })
    .succeed(result)
}
`;

describe("OpenFaaS stack.yml", () => {
  it("deploys with environment, environment_file, secrets, labels and limits", async () => {
    const runlet = await startTestRunlet();
    const cwd = await tempDir("runlet-of-");
    const env = { RUNLET_GATEWAY: runlet.url, RUNLET_TOKEN: adminToken };
    const cli = (argv: string[]) => runCli(argv, { cwd, env });
    await mkdir(join(cwd, "greet"));
    await writeFile(join(cwd, "greet", "handler.js"), handlerJs);
    await writeFile(
      join(cwd, "greet", "package.json"),
      '{"name":"openfaas-function","version":"1.0.0","main":"handler.js"}',
    );
    await writeFile(join(cwd, "stack.yml"), stackYml);
    await writeFile(join(cwd, "env.yml"), "environment:\n  PLACE: Lisbon\n  GREETING: Hi\n");
    expect((await cli(["secret", "create", "api-key", "--from-literal", "s3cret"])).code).toBe(0);

    const deployed = await cli(["deploy", "-f", "stack.yml"]);
    // Its image is recorded as a tag of its package (faas-cli deploy of it then deploys it).
    expect(deployed.stderr).not.toContain("image ignored");
    expect(deployed.stderr).toContain("greet: tagged as ghcr.io/example/greet:latest");
    expect(deployed.code).toBe(0);
    expect(deployed.stdout).toMatch(/✔ greet deployed \(revision 1\)/);

    const answer = await fetch(`${runlet.url}/function/greet?name=Ada`);
    expect(answer.status).toBe(200);
    expect(answer.headers.get("content-type")).toBe("application/json; charset=utf-8");
    // environment_file wins over environment, as in faas-cli.
    expect(await answer.json()).toEqual({ message: "Hi, Ada", place: "Lisbon", keyLength: 6 });

    // Without runlet.yaml, a plain `runlet deploy` finds stack.yml, as faas-cli would.
    const again = await cli(["deploy"]);
    expect(again.stderr).toContain("note: no runlet.yaml here; deploying the OpenFaaS stack file");
    expect(again.stdout).toContain("greet unchanged (revision 1)");

    const described = await runlet.api("/api/v1/functions/greet");
    const fn = (await described.json()) as Record<string, unknown>;
    expect(JSON.stringify(fn)).toContain('"compat":"openfaas"');
    expect(fn).toMatchObject({
      config: expect.objectContaining({
        memory: "128Mi",
        cpu: 0.5,
        scale: expect.objectContaining({ min: 1, max: 4 }),
      }) as unknown,
    });
  });

  it("maps python langs to the python runtime with the openfaas shape", () => {
    const stack = parseStackFile(
      `version: 1.0
provider:
  name: openfaas
functions:
  classic:
    lang: python3
    handler: ./classic
  http:
    lang: python3-http
    handler: ./http
    limits:
      memory: 64Mi
`,
      "/tmp/stack.yml",
    );
    expect(stack.functions.map((f) => [f.name, f.source, f.spec])).toEqual([
      ["classic", "/tmp/classic", { runtime: "python", handler: "handler.py", compat: "openfaas" }],
      [
        "http",
        "/tmp/http",
        { runtime: "python", handler: "handler.py", compat: "openfaas", memory: "64Mi" },
      ],
    ]);
  });

  it("reports an unknown lang with the known ones, and every other problem with its line", async () => {
    const cwd = await tempDir("runlet-of-");
    await writeFile(
      join(cwd, "stack.yml"),
      `version: 1.0
provider:
  name: openfaas
functions:
  api:
    lang: go-fiber
    handler: ./api
  img:
    lang: dockerfile
    handler: ./img
  web:
    lang: node20
    handler: ./web
    environment_file:
      - missing.yml
    labels:
      com.openfaas.scale.max: lots
    limits:
      memory: a lot
`,
    );
    const result = await runCli(["deploy", "-f", "stack.yml"], {
      cwd,
      env: { RUNLET_GATEWAY: "http://127.0.0.1:9", RUNLET_TOKEN: "x" },
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("stack.yml has 5 problems");
    expect(result.stderr).toContain(
      'stack.yml:6: functions.api.lang: unknown lang "go-fiber"; known langs: node, node12, node14, node16, node17, node18, node20, node22, python3, python3-http, python3-http-debian, golang-http, golang-middleware, go, java11, java17, springboot, vertx. Go code runs as runtime go in runlet.yaml: a net/http server on $PORT (start from runlet new NAME --runtime go)',
    );
    expect(result.stderr).toContain(
      "stack.yml:9: functions.img.lang: lang dockerfile builds a container image",
    );
    expect(result.stderr).toMatch(
      /stack\.yml:15: functions\.web\.environment_file\.0: environment file .*missing\.yml does not exist/,
    );
    expect(result.stderr).toContain(
      'stack.yml:17: functions.web.labels.com.openfaas.scale.max: com.openfaas.scale.max must be a whole number of at least 1, not "lots"',
    );
    expect(result.stderr).toContain("stack.yml:19: functions.web.limits.memory: expected a size");
  });
});
