// The suite's OCI images and deploy/*.Dockerfile describe the same images: entrypoint, user, ports, env and Runlet's files (issue 15).
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildImages, type ImageBuild } from "./images/image-cache.js";
import { readImageArchive, sha256Of, type ImageContents } from "./images/image-contents.js";
import {
  natsImage,
  REPO_ROOT,
  RUNLET_HOME,
  RUNLET_IMAGES,
  type ImageSpec,
} from "./images/image-specs.js";
import { buildTool, toolPath } from "./tools/binaries.js";
import { readDockerfile, type DockerfileImage } from "./images/dockerfile.js";

let scratch = "";
let built: Map<string, ImageBuild> = new Map();
/** Runlet's images and the NATS image of the Kubernetes install (its nats-server built first). */
const IMAGES: readonly ImageSpec[] = [...RUNLET_IMAGES, natsImage(toolPath("nats-server"))];

beforeAll(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), "runlet-images-test-"));
  // A cold build of nats-server takes a few minutes; later runs find it cached.
  await buildTool("nats-server");
  // The cache the cluster uses: a second run (or the cluster tests) finds these.
  built = new Map((await buildImages(IMAGES)).map((image) => [image.name, image]));
}, 900_000);

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** Where the Dockerfile and the spec disagree, one line each; empty when they agree. */
function differences(spec: ImageSpec, dockerfile: DockerfileImage): string[] {
  const found: string[] = [];
  const same = (what: string, a: unknown, b: unknown): void => {
    if (JSON.stringify(a) !== JSON.stringify(b)) {
      found.push(`${what}: Dockerfile ${JSON.stringify(a)}, image ${JSON.stringify(b)}`);
    }
  };
  const sorted = (values: readonly string[]): string[] => [...values].sort();
  const trim = (p: string): string => p.replace(/\/+$/, "");
  same("ENTRYPOINT", dockerfile.entrypoint, spec.config.entrypoint);
  same("CMD", dockerfile.cmd, spec.config.cmd);
  same("USER", dockerfile.user, spec.config.user);
  same("WORKDIR", dockerfile.workingDir, spec.config.workingDir);
  same("EXPOSE", sorted(dockerfile.exposedPorts), sorted(spec.config.exposedPorts));
  // PATH comes from the base image in the Dockerfile and is set in ours.
  same(
    "ENV",
    sorted(dockerfile.env),
    sorted(spec.config.env.filter((e) => !e.startsWith("PATH="))),
  );
  same(
    "COPY",
    sorted(dockerfile.copies.map((c) => `${trim(c.from)} -> ${trim(c.to)}`)),
    sorted(spec.copies.map((c) => `${trim(c.from)} -> ${trim(c.to)}`)),
  );
  return found;
}

/** Every file below a repo path, as [repo file, image path] pairs, as the image copies them. */
async function repoFiles(from: string, to: string): Promise<[string, string][]> {
  const source = path.join(REPO_ROOT, from);
  if (!(await stat(source)).isDirectory()) {
    return [[source, to]];
  }
  const pairs: [string, string][] = [];
  for (const entry of await readdir(source, { withFileTypes: true })) {
    if (entry.name === "__pycache__") {
      continue;
    }
    const next = await repoFiles(path.join(from, entry.name), path.posix.join(to, entry.name));
    if (entry.isDirectory() || entry.isFile()) {
      pairs.push(...next);
    }
  }
  return pairs;
}

/**
 * Image paths of every module `entry` (an image path of a repo file) imports with a relative
 * specifier, transitively. Reads the repo's copies, mapped through the platform's layout.
 */
async function relativeImports(entry: string): Promise<string[]> {
  const toRepo = (imagePath: string): string =>
    path.join(REPO_ROOT, path.posix.relative(RUNLET_HOME, imagePath));
  const seen = new Set<string>();
  const queue = [entry];
  for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
    if (seen.has(next)) {
      continue;
    }
    seen.add(next);
    let source: string;
    try {
      source = await readFile(toRepo(next), "utf8");
    } catch {
      continue; // not in the repo: reported as missing from the image by the caller
    }
    for (const match of source.matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)) {
      const specifier = match[1];
      if (specifier !== undefined) {
        queue.push(path.posix.join(path.posix.dirname(next), specifier));
      }
    }
  }
  return [...seen];
}

describe("Runlet's images", () => {
  it("are all described by a Dockerfile under deploy/", async () => {
    const dockerfiles = (await readdir(path.join(REPO_ROOT, "deploy"))).filter((f) =>
      f.endsWith(".Dockerfile"),
    );
    expect(dockerfiles.sort()).toEqual(IMAGES.map((s) => `${s.name}.Dockerfile`).sort());
  });

  for (const spec of IMAGES) {
    describe(spec.name, () => {
      it("has a Dockerfile with the same entrypoint, user, ports, env and copied files", async () => {
        expect(spec.dockerfile).toBe(`deploy/${spec.name}.Dockerfile`);
        const dockerfile = await readDockerfile(path.join(REPO_ROOT, spec.dockerfile ?? ""));
        expect(differences(spec, dockerfile)).toEqual([]);
      });

      it("is written as an OCI archive whose config and files are what the Dockerfile says", async () => {
        const image = built.get(spec.name);
        expect(image, `${spec.name} was built`).toBeDefined();
        const contents: ImageContents = await readImageArchive(image?.archive ?? "");
        const dockerfile = await readDockerfile(path.join(REPO_ROOT, spec.dockerfile ?? ""));
        expect(contents.reference).toBe(spec.reference);
        expect(spec.reference).not.toMatch(/:latest$/);
        expect(contents.config["Entrypoint"]).toEqual(dockerfile.entrypoint);
        expect(contents.config["Cmd"]).toEqual(dockerfile.cmd);
        expect(contents.config["User"]).toBe(dockerfile.user);
        expect(contents.config["WorkingDir"]).toBe(dockerfile.workingDir);
        expect(Object.keys(contents.config["ExposedPorts"] as object).sort()).toEqual(
          [...dockerfile.exposedPorts].sort(),
        );
        for (const copy of dockerfile.copies) {
          for (const [repoFile, imagePath] of await repoFiles(copy.from, copy.to)) {
            const inImage = contents.files.get(imagePath.replace(/^\//, ""));
            expect(inImage, `${imagePath} in ${spec.name}`).toBeDefined();
            expect(inImage?.sha256, `${imagePath} in ${spec.name}`).toBe(await sha256Of(repoFile));
          }
        }
        // What the Dockerfile copies from a build stage (the platform's node_modules) is there.
        for (const to of dockerfile.copiesFromStages) {
          expect(contents.paths.has(to.replace(/^\/|\/$/g, "")), `${to} in ${spec.name}`).toBe(
            true,
          );
        }
        // A Node entrypoint's relative imports, followed through, are all in the image: a runtime
        // that starts importing a new sibling folder must bring it along.
        const script = dockerfile.entrypoint?.[1] ?? "";
        if (script.endsWith(".mjs")) {
          const missing = (await relativeImports(script)).filter(
            (file) => !contents.files.has(file.replace(/^\//, "")),
          );
          expect(missing, `modules ${script} imports`).toEqual([]);
        }
        // The entrypoint's program is in the image, wherever PATH finds it.
        const program = dockerfile.entrypoint?.[0] ?? "";
        const onPath = ["usr/local/bin", "usr/bin", "bin"].map((d) => `${d}/${program}`);
        expect(onPath.some((p) => contents.paths.has(p))).toBe(true);
      });
    });
  }

  it("notices when a Dockerfile says something else than the image", async () => {
    const spec = RUNLET_IMAGES[0];
    expect(spec).toBeDefined();
    if (spec === undefined) {
      return;
    }
    const changed = path.join(scratch, "changed.Dockerfile");
    await writeFile(
      changed,
      [
        "FROM node:20.20.2-bookworm-slim",
        "WORKDIR /opt/runlet",
        `COPY ${spec.copies[0]?.from ?? "x"}/ /elsewhere/`,
        "USER 0:0",
        "EXPOSE 9999",
        `ENTRYPOINT ${JSON.stringify(spec.config.entrypoint)}`,
      ].join("\n"),
    );
    const found = differences(spec, await readDockerfile(changed));
    expect(found.map((line) => line.split(":")[0])).toEqual(["USER", "EXPOSE", "ENV", "COPY"]);
  });
});
