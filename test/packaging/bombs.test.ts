/**
 * Issue 13, item 7: decompression bombs. The upload is inflated in bounded chunks, stopped at the
 * unpacked-size limit and at the compression-ratio limit, and the gateway keeps answering while
 * it is. What the tests measure is how far decompression got (the store's progress hook), never
 * how long anything took.
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { UnpackProgress } from "../../src/packaging/unpack.js";
import { gzipBomb } from "../helpers/archive.js";
import { startTestRunlet, type TestRunlet } from "../helpers/runlet.js";

const MiB = 1024 * 1024;
/** The most decompression may run past a limit before it stops: one inflated chunk. */
const oneChunk = 64 * 1024;

function progressLog(): { hook: (p: UnpackProgress) => void; max: () => number } {
  let max = 0;
  return {
    hook: (progress) => {
      max = Math.max(max, progress.decompressedBytes);
    },
    max: () => max,
  };
}

async function upload(runlet: TestRunlet, archive: Buffer) {
  const response = await runlet.api("/api/v1/packages", {
    method: "POST",
    headers: { "content-type": "application/gzip" },
    body: archive,
  });
  return {
    status: response.status,
    body: (await response.json()) as { error: { code: string; message: string } },
  };
}

describe("decompression bombs", () => {
  it("stops at the first header that declares more than the unpacked-size limit", async () => {
    const progress = progressLog();
    const runlet = await startTestRunlet({
      poolSize: 0,
      maxPackageBytes: MiB,
      packages: { onUnpackProgress: progress.hook },
    });
    // 256 MiB of zeros in about 250 KiB.
    const bomb = await gzipBomb({ zeroBytes: 256 * MiB });
    expect(bomb.length).toBeLessThan(MiB);

    const { status, body } = await upload(runlet, bomb);

    expect(status).toBe(413);
    expect(body.error.code).toBe("RUNLET_PACKAGE_TOO_LARGE");
    expect(body.error.message).toContain("the limit is 1Mi");
    expect(progress.max()).toBeGreaterThan(0);
    expect(progress.max()).toBeLessThanOrEqual(oneChunk);
    expect(await readdir(join(runlet.dataDir, "packages"))).toEqual([]);
  });

  it("stops a bomb hidden after the end of the archive at the limit", async () => {
    const progress = progressLog();
    const runlet = await startTestRunlet({
      poolSize: 0,
      maxPackageBytes: MiB,
      // Only the size limit is tried here.
      packages: { onUnpackProgress: progress.hook, maxCompressionRatio: 1e9 },
    });
    const bomb = await gzipBomb({
      zeroBytes: 0,
      entries: [{ path: "index.js", body: "export default () => 'hi';\n" }],
      trailingZeroBytes: 128 * MiB,
    });

    const { status, body } = await upload(runlet, bomb);

    expect(status).toBe(413);
    expect(body.error.code).toBe("RUNLET_PACKAGE_TOO_LARGE");
    // The limit, the tar framing allowed for the entries seen (1 MiB and a few blocks), a chunk.
    expect(progress.max()).toBeLessThanOrEqual(2 * MiB + 2 * 1536 + oneChunk);
    expect(await readdir(join(runlet.dataDir, "packages"))).toEqual([]);
  });

  it("stops an archive under the size limit that inflates past the compression-ratio limit", async () => {
    const progress = progressLog();
    const runlet = await startTestRunlet({
      poolSize: 0,
      maxPackageBytes: 256 * MiB,
      packages: { onUnpackProgress: progress.hook, maxCompressionRatio: 100 },
    });
    const bomb = await gzipBomb({ zeroBytes: 128 * MiB });

    const { status, body } = await upload(runlet, bomb);

    expect(status).toBe(413);
    expect(body.error.code).toBe("RUNLET_PACKAGE_TOO_COMPRESSED");
    expect(body.error.message).toContain("more than 100 times its uploaded size");
    expect(progress.max()).toBeLessThanOrEqual(Math.max(MiB, 100 * bomb.length) + oneChunk);
    expect(await readdir(join(runlet.dataDir, "packages"))).toEqual([]);
  });

  it("keeps answering /healthz while an upload is being inflated", async () => {
    const health: number[] = [];
    let during: UnpackProgress | undefined;
    let url = "";
    const runlet = await startTestRunlet({
      poolSize: 0,
      maxPackageBytes: 64 * MiB,
      packages: {
        maxCompressionRatio: 1e9,
        // Decompression waits here, mid-archive, until the gateway has answered a probe.
        onUnpackProgress: async (progress) => {
          if (during === undefined && progress.decompressedBytes > MiB) {
            during = progress;
            health.push((await fetch(`${url}/healthz`)).status);
          }
        },
      },
    });
    url = runlet.url;
    const bomb = await gzipBomb({ zeroBytes: 32 * MiB });

    const response = await runlet.api("/api/v1/packages", {
      method: "POST",
      headers: { "content-type": "application/gzip" },
      body: bomb,
    });

    expect(response.status).toBe(201);
    expect(health).toEqual([200]);
    expect(during?.decompressedBytes).toBeLessThan(32 * MiB);
  });
});
