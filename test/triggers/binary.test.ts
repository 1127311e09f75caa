import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { StringCodec } from "nats";
import { describe, expect, it } from "vitest";
import { runBinary, startServer } from "../helpers/binary.js";
import { startTestNats } from "../helpers/nats.js";
import { eventually, tempDir } from "../helpers/runlet.js";

const sc = StringCodec();

describe("triggers through the runlet binary", () => {
  it("runlet up --nats serves a runlet.yaml's route and NATS triggers", async () => {
    const nats = await startTestNats();
    const home = await tempDir("runlet-home-");
    const server = await startServer(["--port", "0", "--nats", nats.url], { HOME: home });
    const project = await tempDir("runlet-project-");
    await mkdir(join(project, "shout"));
    await writeFile(
      join(project, "shout", "index.js"),
      `export default async (event) => String(event.params?.word ?? event.body.word).toUpperCase();`,
    );
    await writeFile(
      join(project, "runlet.yaml"),
      [
        "version: 1",
        "functions:",
        "  shout:",
        "    runtime: node",
        "    triggers:",
        "      - http: GET /shout/{word}",
        "      - nats: words.shout",
        "",
      ].join("\n"),
    );
    const deployed = await runBinary(["deploy"], {
      cwd: project,
      env: { HOME: home, RUNLET_GATEWAY: server.url },
    });
    expect(deployed.code, deployed.stderr).toBe(0);
    expect(await (await fetch(`${server.url}/shout/hey`)).text()).toBe("HEY");

    const nc = await nats.connect();
    const answer = await eventually(
      async () => {
        try {
          const msg = await nc.request("words.shout", sc.encode('{"word":"hi"}'), {
            timeout: 1000,
          });
          return sc.decode(msg.data);
        } catch {
          return undefined;
        }
      },
      { what: "a reply on words.shout", timeoutMs: 20_000 },
    );
    expect(answer).toBe("HI");

    const list = await runBinary(["trigger", "list", "--json"], {
      cwd: project,
      env: { HOME: home, RUNLET_GATEWAY: server.url },
    });
    expect(JSON.parse(list.stdout)).toMatchObject([
      { name: "shout.http-1", kind: "http", function: "shout", origin: "spec" },
      { name: "shout.nats-2", kind: "nats", function: "shout", origin: "spec" },
    ]);
  });
});
