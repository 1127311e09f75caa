// The CRDs under deploy/crds/ are what the zod schemas generate (npm run crds), and the resource schemas refuse what the CRDs refuse.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { crdManifestFiles } from "../../src/kubernetes/crd-manifests.js";
import {
  functionResourceSpecSchema,
  revisionObjectName,
  toFunctionResourceSpec,
  toResourceSnapshot,
  triggerResourceSpecSchema,
} from "../../src/kubernetes/resources.js";
import { resolveFunctionConfig } from "../../src/spec/function-spec.js";

const dir = join(import.meta.dirname, "..", "..", "deploy", "crds");
const digest = `sha256:${"b".repeat(64)}`;

describe("deploy/crds", () => {
  it("holds exactly what npm run crds generates", () => {
    const generated = crdManifestFiles();
    const onDisk = readdirSync(dir)
      .filter((f) => f.endsWith(".yaml"))
      .sort();
    expect(onDisk).toEqual([...generated.keys()].sort());
    for (const [name, text] of generated) {
      const path = join(dir, name);
      expect(existsSync(path), name).toBe(true);
      expect(readFileSync(path, "utf8"), `${name} differs from the schemas: run npm run crds`).toBe(
        text,
      );
    }
  });

  it("has no $ref and no typed anyOf, which the API server refuses", () => {
    for (const [name, text] of crdManifestFiles()) {
      expect(text, name).not.toContain("$ref");
      expect(text, name).not.toMatch(/anyOf:/);
    }
  });
});

describe("resource schemas", () => {
  it("refuse a Function without a handler, and an exec Function without a command", () => {
    const missing = functionResourceSpecSchema.safeParse({ runtime: "python", package: digest });
    expect(missing.success).toBe(false);
    expect(missing.error?.issues[0]?.message).toMatch(/handler is required/);
    const exec = functionResourceSpecSchema.safeParse({ runtime: "exec", package: digest });
    expect(exec.error?.issues.map((i) => i.message).join()).toMatch(/runtime exec needs a command/);
  });

  it("write a deployed spec as the CRD types it, meaning the same config", () => {
    const spec = {
      runtime: "node" as const,
      cpu: 0.5,
      timeout: 1.5,
      memory: 1000.4,
      scale: { idleTimeout: 0.25 },
    };
    const snapshot = toResourceSnapshot(spec, digest);
    expect(snapshot).toMatchObject({
      cpu: "0.5",
      timeout: "1500ms",
      memory: 1000,
      scale: { idleTimeout: "250ms" },
    });
    const { package: _package, ...back } = snapshot;
    expect(resolveFunctionConfig(back)).toEqual(resolveFunctionConfig(spec));
    const resource = toFunctionResourceSpec(spec, digest, 2);
    expect(resource.handler).toBe("index.js");
    expect(resource.activeRevision).toBe(2);
    expect(functionResourceSpecSchema.parse(resource)).toEqual(resource);
  });

  it("name revisions <function>-r<number> and parse Trigger specs", () => {
    expect(revisionObjectName("hello", 12)).toBe("hello-r12");
    expect(
      triggerResourceSpecSchema.parse({ function: "hello@3", trigger: { http: "GET /a" } }),
    ).toEqual({ function: "hello@3", trigger: { http: "GET /a" } });
    expect(
      triggerResourceSpecSchema.safeParse({ function: "hello", trigger: { http: "GET /api/x" } })
        .success,
    ).toBe(false);
  });
});
