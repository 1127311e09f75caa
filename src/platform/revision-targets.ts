/**
 * Revision lookup for the embedded platform: function records from the store, turned into the
 * targets the executor runs, with the caches the call path needs (a target per active
 * revision, and the names looked up and not found).
 */
import { runConfigOf } from "../build/run-config.js";
import type { RevisionTarget } from "../executor/revision-target.js";
import type { RevisionLookup } from "../router/revision-lookup.js";
import { resolveFunctionConfig } from "../spec/function-spec.js";
import type { FunctionStore, RevisionRecord } from "../store/function-store.js";
import type { PackageStore } from "../store/package-store.js";

/** How many unknown function names are remembered. */
const maxAbsentNames = 10_000;

export interface RevisionTargetsOptions {
  readonly functions: Pick<FunctionStore, "get" | "revision">;
  readonly packages: Pick<PackageStore, "verify">;
}

export class RevisionTargets implements RevisionLookup {
  readonly #options: RevisionTargetsOptions;
  readonly #targets = new Map<string, RevisionTarget>();
  /**
   * Names looked up and not found, so a flood of calls to a function that does not exist
   * answers 404 from memory instead of querying the store each time (about 60 us a call).
   * Bounded: cleared when full, so random names cannot grow it without end.
   */
  readonly #absent = new Set<string>();

  constructor(options: RevisionTargetsOptions) {
    this.#options = options;
  }

  find(name: string): RevisionTarget | undefined {
    const cached = this.#targets.get(name);
    if (cached) {
      return cached;
    }
    if (this.#absent.has(name)) {
      return undefined;
    }
    const record = this.#options.functions.get(name);
    if (!record) {
      if (this.#absent.size >= maxAbsentNames) {
        this.#absent.clear();
      }
      this.#absent.add(name);
      return undefined;
    }
    const target = this.targetOf(record.active);
    this.#targets.set(name, target);
    return target;
  }

  findRevision(name: string, revision: number): RevisionTarget | undefined {
    const active = this.find(name);
    if (active?.revision === String(revision)) {
      return active;
    }
    const record = this.#options.functions.revision(name, revision);
    return record ? this.targetOf(record) : undefined;
  }

  /** `target` is now the active revision of its function. */
  activate(target: RevisionTarget): void {
    this.#targets.set(target.functionName, target);
    this.#absent.delete(target.functionName);
  }

  /** The function is gone (or was changed elsewhere: the next lookup reads the store). */
  forget(name: string): void {
    this.#targets.delete(name);
    this.#absent.delete(name);
  }

  /** The active revision's target if one was looked up; the store is not read. */
  cached(name: string): RevisionTarget | undefined {
    return this.#targets.get(name);
  }

  targetOf(revision: RevisionRecord): RevisionTarget {
    const config = runConfigOf(resolveFunctionConfig(revision.spec));
    const { packages } = this.#options;
    return {
      functionName: revision.functionName,
      revision: String(revision.number),
      config,
      packageDigest: revision.packageDigest,
      checkPackage: () => packages.verify(revision.packageDigest),
    };
  }
}
