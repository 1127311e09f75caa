// Reads what a Dockerfile says about its final image (entrypoint, user, ports, env, workdir, copies), to compare it with the suite's own images.
import { readFile } from "node:fs/promises";

export interface DockerfileImage {
  readonly entrypoint: readonly string[] | undefined;
  readonly cmd: readonly string[] | undefined;
  readonly user: string | undefined;
  readonly workingDir: string | undefined;
  readonly exposedPorts: readonly string[];
  /** `KEY=VALUE` */
  readonly env: readonly string[];
  /** COPY instructions of the final stage that take files from the build context. */
  readonly copies: readonly { readonly from: string; readonly to: string }[];
  /** COPY --from=STAGE instructions of the final stage: `to` paths. */
  readonly copiesFromStages: readonly string[];
}

/**
 * Only the final stage counts (what is after the last FROM). ENTRYPOINT and CMD must be in
 * JSON (exec) form: the shell form would run through /bin/sh and differ from the image config.
 */
export async function readDockerfile(file: string): Promise<DockerfileImage> {
  const instructions = logicalLines(await readFile(file, "utf8"));
  let stage: { keyword: string; rest: string }[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === "FROM") {
      stage = [];
    } else {
      stage.push(instruction);
    }
  }
  let entrypoint: string[] | undefined;
  let cmd: string[] | undefined;
  let user: string | undefined;
  let workingDir: string | undefined;
  const exposedPorts: string[] = [];
  const env = new Map<string, string>();
  const copies: { from: string; to: string }[] = [];
  const copiesFromStages: string[] = [];
  for (const { keyword, rest } of stage) {
    switch (keyword) {
      case "ENTRYPOINT":
        entrypoint = execForm(file, keyword, rest);
        break;
      case "CMD":
        cmd = execForm(file, keyword, rest);
        break;
      case "USER":
        user = rest;
        break;
      case "WORKDIR":
        workingDir = rest;
        break;
      case "EXPOSE":
        for (const port of rest.split(/\s+/)) {
          exposedPorts.push(port.includes("/") ? port : `${port}/tcp`);
        }
        break;
      case "ENV":
        for (const pair of rest.split(/\s+/)) {
          const eq = pair.indexOf("=");
          if (eq <= 0) {
            throw new Error(`${file}: ENV ${rest}: write ENV KEY=VALUE pairs`);
          }
          env.set(pair.slice(0, eq), pair.slice(eq + 1));
        }
        break;
      case "COPY": {
        const words = rest.split(/\s+/);
        const flags = words.filter((w) => w.startsWith("--"));
        const paths = words.filter((w) => !w.startsWith("--"));
        const to = paths.pop();
        if (to === undefined || paths.length === 0) {
          throw new Error(`${file}: COPY ${rest}: needs a source and a destination`);
        }
        if (flags.some((f) => f.startsWith("--from="))) {
          copiesFromStages.push(to);
        } else {
          for (const from of paths) {
            copies.push({ from, to });
          }
        }
        break;
      }
      default:
        break;
    }
  }
  return {
    entrypoint,
    cmd,
    user,
    workingDir,
    exposedPorts,
    env: [...env].map(([key, value]) => `${key}=${value}`),
    copies,
    copiesFromStages,
  };
}

/** Instructions with their continuation lines joined, comments and blank lines dropped. */
function logicalLines(text: string): { keyword: string; rest: string }[] {
  const result: { keyword: string; rest: string }[] = [];
  let pending = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (pending === "" && (line === "" || line.startsWith("#"))) {
      continue;
    }
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const whole = `${pending}${line}`.trim();
    pending = "";
    const match = /^(\S+)\s*(.*)$/.exec(whole);
    if (match?.[1] !== undefined) {
      result.push({ keyword: match[1].toUpperCase(), rest: (match[2] ?? "").trim() });
    }
  }
  return result;
}

function execForm(file: string, keyword: string, rest: string): string[] {
  let value: unknown;
  try {
    value = JSON.parse(rest);
  } catch {
    value = undefined;
  }
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
    throw new Error(`${file}: ${keyword} ${rest}: use the JSON form, e.g. ["node", "server.mjs"]`);
  }
  return value as string[];
}
