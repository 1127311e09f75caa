/** What the executor needs to know to run one revision of a function. */
import type { FunctionConfig } from "../spec/function-spec.js";

export interface RevisionTarget {
  readonly functionName: string;
  /** Revision id, unique per function ("3"). */
  readonly revision: string;
  readonly config: FunctionConfig;
  /** The package the revision runs (the provider fetches it by digest). */
  readonly packageDigest: string;
  /** Checks the package before an instance loads it (it rejects when the package is not fit to run). */
  readonly checkPackage?: () => Promise<void>;
}

export function revisionKey(target: Pick<RevisionTarget, "functionName" | "revision">): string {
  return `${target.functionName}@${target.revision}`;
}
