// One case suite for the FunctionStore contract (CONVENTIONS rule 15), run against the SQLite store and the one on the Kubernetes API.
import { randomBytes } from "node:crypto";
import { expect, it } from "vitest";
import type { FunctionStore } from "../../src/store/function-store.js";

const digest = (c: string) => `sha256:${c.repeat(64)}`;
const hash = (c: string) => c.repeat(64);

/** Registers the cases; `store()` gives the store under test (shared by the cases). */
export function functionStoreCases(store: () => FunctionStore): void {
  const fresh = (prefix: string) => `${prefix}-${randomBytes(3).toString("hex")}`;

  it("numbers revisions from 1 and serves none until one is activated", async () => {
    const s = store();
    const name = fresh("numbers");
    const first = await s.addRevision(name, { runtime: "node" }, digest("a"), hash("1"));
    expect(first).toMatchObject({ functionName: name, number: 1, packageDigest: digest("a") });
    expect(s.get(name)).toBeUndefined();
    expect(s.list().map((f) => f.name)).not.toContain(name);
    await s.activate(name, 1);
    expect(s.get(name)?.active).toMatchObject({ number: 1, hash: hash("1") });
    const second = await s.addRevision(
      name,
      { runtime: "node", memory: "128Mi" },
      digest("b"),
      hash("2"),
    );
    expect(second.number).toBe(2);
    // Added but not active: the first still serves.
    expect(s.get(name)?.active.number).toBe(1);
    await s.activate(name, 2);
    expect(s.get(name)?.active).toMatchObject({ number: 2, spec: { memory: "128Mi" } });
    expect(s.revisions(name).map((r) => r.number)).toEqual([1, 2]);
    expect(s.revision(name, 1)?.packageDigest).toBe(digest("a"));
    expect(s.revision(name, 3)).toBeUndefined();
    // A rollback is a pointer move.
    await s.activate(name, 1);
    expect(s.get(name)?.active.number).toBe(1);
    expect(s.revisions(name).map((r) => r.number)).toEqual([1, 2]);
    expect(s.referencedPackages()).toEqual(expect.any(Set));
    expect([...s.referencedPackages()]).toEqual(expect.arrayContaining([digest("a"), digest("b")]));
  });

  it("discards a revision that never served, and with it a function that never served", async () => {
    const s = store();
    const name = fresh("discard");
    await s.addRevision(name, { runtime: "node" }, digest("c"), hash("3"));
    await s.discardRevision(name, 1);
    expect(s.revisions(name)).toEqual([]);
    expect(s.get(name)).toBeUndefined();
    // Made again, it starts from 1.
    expect((await s.addRevision(name, { runtime: "node" }, digest("c"), hash("3"))).number).toBe(1);
    await s.activate(name, 1);
    await s.addRevision(name, { runtime: "python" }, digest("d"), hash("4"));
    await s.discardRevision(name, 2);
    expect(s.get(name)?.active.number).toBe(1);
    expect(s.revisions(name).map((r) => r.number)).toEqual([1]);
  });

  it("removes a function with its revisions, once", async () => {
    const s = store();
    const name = fresh("remove");
    await s.addRevision(name, { runtime: "node" }, digest("e"), hash("5"));
    await s.activate(name, 1);
    expect(await s.remove(name)).toBe(true);
    expect(s.get(name)).toBeUndefined();
    expect(s.revisions(name)).toEqual([]);
    expect(await s.remove(name)).toBe(false);
    // The same name again is a new function: its revisions start from 1.
    expect((await s.addRevision(name, { runtime: "node" }, digest("e"), hash("5"))).number).toBe(1);
  });
}
