/** Deploys through the streaming API and collects the build's lines (NDJSON). */
import { packDirectory } from "../../src/packaging/pack.js";
import type { TestRunlet } from "../helpers/runlet.js";
import { writeSource } from "../helpers/runlet.js";

export interface StreamLine {
  type: string;
  step?: string;
  status?: string | number;
  text?: string;
  detail?: string;
  revision?: number;
  outcome?: string;
  error?: { code: string; message: string; step?: string };
}

export interface StreamedDeploy {
  readonly lines: StreamLine[];
  readonly last: StreamLine;
  /** Steps that started (ran), e.g. ["npm ci", "esbuild", "package"]. */
  readonly ran: string[];
  readonly cached: string[];
}

export async function deployStreamed(
  runlet: TestRunlet,
  name: string,
  files: Record<string, string>,
  spec: Record<string, unknown>,
): Promise<StreamedDeploy> {
  const source = await writeSource(files);
  const packed = await packDirectory(source);
  const upload = await runlet.api("/api/v1/packages", {
    method: "POST",
    headers: { "content-type": "application/gzip" },
    body: packed.archive,
  });
  if (upload.status >= 300) {
    throw new Error(`upload failed: ${upload.status} ${await upload.text()}`);
  }
  const response = await runlet.api(`/api/v1/functions/${name}`, {
    method: "PUT",
    headers: { "content-type": "application/json", accept: "application/x-ndjson" },
    body: JSON.stringify({ package: packed.digest, ...spec }),
  });
  const text = await response.text();
  if (response.status !== 200 || !response.headers.get("content-type")?.includes("x-ndjson")) {
    throw new Error(`expected a stream, got ${response.status}: ${text}`);
  }
  const lines = text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as StreamLine);
  const last = lines.at(-1);
  if (!last) {
    throw new Error("empty deploy stream");
  }
  const steps = (status: string): string[] =>
    lines.filter((l) => l.type === "step" && l.status === status).map((l) => l.step ?? "");
  return { lines, last, ran: steps("start"), cached: steps("cached") };
}
