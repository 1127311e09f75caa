/**
 * The shape of src/ as docs/architecture.md draws it, checked over the real import graph (type
 * imports included: a type-only loop is still a design loop): no cycles, and dependencies that
 * point one way, shells → platform → calls, triggers, build → router → executor → provider, with
 * the side modules (spec, store, packaging, host…) importable from anywhere and importing none
 * of the layers.
 */
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { sourceFiles } from "../helpers/source-files.js";

const srcRoot = resolve("src");

/** Rank of each top-level part of src/: a part imports only lower ranks (0 is the side). */
const ranks: Readonly<Record<string, number>> = {
  cli: 11,
  gateway: 10,
  operator: 10,
  platform: 9,
  calls: 8,
  triggers: 8,
  build: 8,
  router: 7,
  executor: 6,
  provider: 5,
  spec: 0,
  store: 0,
  auth: 0,
  packaging: 0,
  importers: 0,
  host: 0,
  kubernetes: 0,
  "errors.ts": 0,
  "clock.ts": 0,
  "version.ts": 0,
  "keyed-lock.ts": 0,
};

/** Every file under src/ with the src/ files it imports (static, type-only and dynamic). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(srcRoot)) {
    const info = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
    const targets = info.importedFiles
      .map((imported) => imported.fileName)
      .filter((name) => name.startsWith("."))
      .map((name) => resolve(dirname(file), name.replace(/\.js$/, ".ts")))
      .filter((target) => target.startsWith(srcRoot));
    graph.set(file, targets);
  }
  return graph;
}

/** Strongly connected components with more than one file, or a file importing itself. */
function cycles(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, counter);
    low.set(node, counter);
    counter += 1;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) {
        continue;
      }
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node) ?? 0, low.get(next) ?? 0));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node) ?? 0, index.get(next) ?? 0));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string | undefined;
      do {
        member = stack.pop();
        if (member !== undefined) {
          onStack.delete(member);
          component.push(member);
        }
      } while (member !== undefined && member !== node);
      if (component.length > 1 || (graph.get(node) ?? []).includes(node)) {
        found.push(component.map((file) => relative(srcRoot, file)).sort());
      }
    }
  };
  for (const node of graph.keys()) {
    if (!index.has(node)) {
      visit(node);
    }
  }
  return found;
}

function partOf(file: string): string {
  return relative(srcRoot, file).split("/")[0] ?? "";
}

describe("the import graph of src/", () => {
  const graph = importGraph();

  it("finds the source files and their imports (the check below is not vacuous)", () => {
    expect(graph.size).toBeGreaterThan(100);
    const platformImports = graph.get(join(srcRoot, "platform", "platform.ts")) ?? [];
    expect(platformImports.map(partOf)).toEqual(expect.arrayContaining(["executor", "store"]));
  });

  it("has no import cycles", () => {
    expect(cycles(graph)).toEqual([]);
  });

  it("gives every top-level part of src/ a place in the layers", () => {
    const parts = new Set([...graph.keys()].map(partOf));
    expect([...parts].filter((part) => ranks[part] === undefined)).toEqual([]);
  });

  it("has dependencies that point one way: no part imports a part above it or beside it", () => {
    const wrong: string[] = [];
    for (const [file, targets] of graph) {
      const from = partOf(file);
      for (const target of targets) {
        const to = partOf(target);
        const fromRank = ranks[from] ?? -1;
        const toRank = ranks[to] ?? -1;
        const allowed = from === to || toRank === 0 || toRank < fromRank;
        if (!allowed || (fromRank === 0 && toRank !== 0)) {
          wrong.push(`${relative(srcRoot, file)} → ${relative(srcRoot, target)}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });
});
