// One case suite for the ImageTagStore contract (CONVENTIONS rule 15), run against the SQLite store and the one on the Kubernetes API.
import { randomBytes } from "node:crypto";
import { expect, it } from "vitest";
import type { ImageTagStore } from "../../src/store/image-tag-store.js";

const digest = (c: string) => `sha256:${c.repeat(64)}`;

/** Registers the cases; `store()` gives the store under test (shared by the cases). */
export function imageTagStoreCases(store: () => ImageTagStore): void {
  const fresh = (prefix: string) => `${prefix}-${randomBytes(3).toString("hex")}`;

  it("tags an image, retags it to another package and reports the one it stood for", async () => {
    const s = store();
    const image = `me/${fresh("hello")}:0.1`;
    expect(s.get(image)).toBeUndefined();
    const first = await s.put(image, digest("a"), {
      runtime: "node",
      handler: "handler.js",
      compat: "openfaas",
    });
    expect(first).toEqual({ created: true, previous: undefined });
    expect(s.get(image)).toMatchObject({
      image,
      packageDigest: digest("a"),
      shape: { runtime: "node", handler: "handler.js", compat: "openfaas" },
    });
    const createdAt = s.get(image)?.createdAt ?? 0;
    expect(createdAt).toBeGreaterThan(0);
    const again = await s.put(image, digest("b"), { runtime: "python", handler: "handler.py" });
    expect(again).toEqual({ created: false, previous: digest("a") });
    const retagged = s.get(image);
    expect(retagged).toMatchObject({
      packageDigest: digest("b"),
      shape: { runtime: "python", handler: "handler.py" },
    });
    // The shape is replaced whole, not merged with the old one.
    expect(retagged?.shape.compat).toBeUndefined();
    expect(retagged?.createdAt).toBe(createdAt);
    expect(retagged?.updatedAt).toBeGreaterThanOrEqual(createdAt);
    expect(s.referencedPackages().has(digest("b"))).toBe(true);
    expect(s.referencedPackages().has(digest("a"))).toBe(false);
  });

  it("lists tags in name order, an exec shape with its command, and removes one once", async () => {
    const s = store();
    const suffix = fresh("x");
    const names = [`zeta-${suffix}:latest`, `alpha-${suffix}:latest`];
    for (const name of names) {
      await s.put(name, digest("c"), { runtime: "exec", command: "tr a-z A-Z", mode: "stdio" });
    }
    const listed = s
      .list()
      .map((tag) => tag.image)
      .filter((image) => image.endsWith(`${suffix}:latest`));
    expect(listed).toEqual([`alpha-${suffix}:latest`, `zeta-${suffix}:latest`]);
    expect(s.get(`alpha-${suffix}:latest`)?.shape).toEqual({
      runtime: "exec",
      command: "tr a-z A-Z",
      mode: "stdio",
    });
    expect(await s.remove(`zeta-${suffix}:latest`)).toBe(true);
    expect(s.get(`zeta-${suffix}:latest`)).toBeUndefined();
    expect(await s.remove(`zeta-${suffix}:latest`)).toBe(false);
    expect(s.referencedPackages().has(digest("c"))).toBe(true);
    await s.remove(`alpha-${suffix}:latest`);
  });
}
