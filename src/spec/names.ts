/** Names of functions and secrets: DNS-1123 labels, so they are valid on Kubernetes too. */
import { UserError } from "../errors.js";

export const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Returns why `name` is not a DNS-1123 label, or undefined when it is one. */
export function nameProblem(name: string): string | undefined {
  if (name.length === 0) {
    return "a name is required";
  }
  if (name.length > 63) {
    return `"${name}" is ${name.length} characters long; the limit is 63`;
  }
  if (!dns1123Label.test(name)) {
    return `"${name}" is not a valid name: use lower-case letters, digits and '-', starting and ending with a letter or digit (e.g. "hello-world")`;
  }
  return undefined;
}

export function assertValidName(name: string, what = "function"): void {
  const problem = nameProblem(name);
  if (problem) {
    throw new UserError("RUNLET_INVALID_NAME", `Invalid ${what} name: ${problem}.`);
  }
}

/**
 * The namespace in the paths Fission mounts secrets and config maps at
 * (`/secrets/<namespace>/<name>/<key>`): Runlet has one, named as `fission fn create` names the
 * one it uses when given none.
 */
export const fissionNamespace = "default";
