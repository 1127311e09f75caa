/** Builds a source folder with the platform's builder directly (for runtimes whose servers may not be present). */
import type { BuildEvent } from "../../src/build/build-events.js";
import type { BuildResult } from "../../src/build/builder.js";
import { packDirectory } from "../../src/packaging/pack.js";
import type { RuntimeName } from "../../src/spec/function-spec.js";
import { writeSource, type TestRunlet } from "../helpers/runlet.js";

export interface BuildOutcome {
  readonly result?: BuildResult;
  readonly error?: Error & { code?: string; status?: number };
  readonly events: BuildEvent[];
  readonly tree?: string;
}

export async function buildSource(
  runlet: TestRunlet,
  runtime: RuntimeName,
  handler: string,
  files: Record<string, string>,
): Promise<BuildOutcome> {
  const packed = await packDirectory(await writeSource(files));
  const stored = await runlet.platform.packages.put(packed.archive);
  const events: BuildEvent[] = [];
  try {
    const result = await runlet.platform.builder.build({
      functionName: "fn",
      runtime,
      handler,
      sourceDigest: stored.digest,
      emit: (event) => events.push(event),
    });
    return { result, events, tree: runlet.platform.packages.treePath(result.digest) };
  } catch (error) {
    return { error: error as Error, events };
  }
}

export const started = (events: readonly BuildEvent[]): string[] =>
  events
    .filter((e) => e.type === "step" && e.status === "start")
    .map((e) => (e.type === "step" ? e.step : ""));
export const cachedSteps = (events: readonly BuildEvent[]): string[] =>
  events
    .filter((e) => e.type === "step" && e.status === "cached")
    .map((e) => (e.type === "step" ? e.step : ""));
