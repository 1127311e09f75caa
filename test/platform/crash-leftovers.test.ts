/**
 * Issue 13, item 13 (package store): a server killed with SIGKILL in the middle of an upload
 * leaves its staging folder (`<hex>.tmp-*`) behind; the next start removes it.
 */
import { readdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { packDirectory } from "../../src/packaging/pack.js";
import { startChildRunlet } from "../helpers/child-runlet.js";
import {
  adminToken,
  eventually,
  startTestRunlet,
  tempDir,
  writeSource,
} from "../helpers/runlet.js";

/** A real server whose uploads stop mid-unpack and say so on stdout. */
const serverScript = `
const { startRunlet } = await import(${JSON.stringify(resolve("src/gateway/start.ts"))});
const runlet = await startRunlet({
  port: 0,
  adminToken: process.env.TOKEN,
  dataDir: process.env.DATA_DIR,
  poolSize: 0,
  packages: {
    onUnpackProgress: () => {
      console.log("unpacking");
      return new Promise(() => {});
    },
  },
});
console.log("url " + runlet.url);
`;

describe("a server killed mid-upload", () => {
  it("leaves a staging folder that the next start removes", async () => {
    const dataDir = await tempDir();
    const server = await startChildRunlet(serverScript, dataDir);
    try {
      const packed = await packDirectory(
        await writeSource({ "index.js": "export default () => 1;\n" }),
      );
      const uploading = fetch(`${server.url}/api/v1/packages`, {
        method: "POST",
        headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/gzip" },
        body: packed.archive,
      }).catch(() => undefined);
      await eventually(() => server.lines.includes("unpacking"), {
        timeoutMs: 30_000,
        what: "the unpack",
      });
      await server.kill();
      await uploading;
    } finally {
      await server.kill();
    }
    const packages = join(dataDir, "packages");
    const left = await readdir(packages);
    expect(left.some((name) => name.includes(".tmp-"))).toBe(true);

    const runlet = await startTestRunlet({ dataDir, poolSize: 0 });
    expect(await readdir(packages)).toEqual([]);
    await runlet.close(2000);
  });
});
