/**
 * Namespaces (issue 18): every function, secret, config map, trigger, async call and log is in
 * one. Inside the platform an object of namespace N is keyed by its qualified name, `NAME.N`,
 * and one of the default namespace by its bare `NAME`: the address OpenFaaS clients already use
 * (`/function/NAME.NAMESPACE`), unambiguous because names are DNS-1123 labels (no dots), and
 * the key every store had before namespaces, so data written then is the default namespace's
 * without a migration. The API and the CLI always show name and namespace apart.
 *
 * In Kubernetes mode a qualified name maps to the object NAME in the Kubernetes namespace N.
 */
import { UserError } from "../errors.js";
import { nameProblem } from "./names.js";

/** The namespace of objects no namespace was given for: the one OpenFaaS clients expect. */
export const defaultNamespace = "openfaas-fn";

/**
 * Names that stand for the default namespace: Kubernetes' own default, which Fission and
 * Kubeless clients name, means the same one here.
 */
const defaultAliases: ReadonlySet<string> = new Set([defaultNamespace, "default"]);

/**
 * The ends of the names of triggers a function's spec declares ("hello.cron-1"): no namespace
 * is named so, so such a name never reads as trigger "hello" of a namespace.
 */
const specTriggerSuffix = /^(http|cron|nats)-[0-9]+$/;

export interface QualifiedName {
  readonly name: string;
  readonly namespace: string;
}

/** The namespace `namespace` stands for ("default" is the default one); 400 when invalid. */
export function namespaceNamed(namespace: string | undefined): string {
  if (namespace === undefined || namespace === "" || defaultAliases.has(namespace)) {
    return defaultNamespace;
  }
  const problem = nameProblem(namespace);
  if (problem !== undefined) {
    throw new UserError("RUNLET_INVALID_NAME", `Invalid namespace: ${problem}.`);
  }
  if (specTriggerSuffix.test(namespace)) {
    throw new UserError(
      "RUNLET_INVALID_NAME",
      `Invalid namespace: "${namespace}" is how the triggers a function's spec declares are named (hello.${namespace}); choose another name.`,
    );
  }
  return namespace;
}

/** The key of object `name` of `namespace` (already valid: see namespaceNamed). */
export function qualifiedName(name: string, namespace: string): string {
  return namespace === defaultNamespace ? name : `${name}.${namespace}`;
}

/** Name and namespace of a key qualifiedName made (a bare name is the default namespace's). */
export function splitQualifiedName(key: string): QualifiedName {
  const dot = key.indexOf(".");
  return dot < 0
    ? { name: key, namespace: defaultNamespace }
    : { name: key.slice(0, dot), namespace: key.slice(dot + 1) };
}

export function namespaceOfKey(key: string): string {
  return splitQualifiedName(key).namespace;
}

export function isInNamespace(key: string, namespace: string): boolean {
  return namespaceOfKey(key) === namespace;
}

/**
 * The key a call path's `NAME` or `NAME.NAMESPACE` stands for, or undefined when the namespace
 * part is not a valid one (so the call is a 404 like any other unknown function).
 */
export function keyOfAddress(address: string): string | undefined {
  const { name, namespace } = splitQualifiedName(address);
  if (defaultAliases.has(namespace)) {
    return name;
  }
  return nameProblem(namespace) === undefined ? qualifiedName(name, namespace) : undefined;
}

/**
 * The namespace in Fission's mount paths (`/secrets/<namespace>/<name>/<key>`): the default
 * namespace is there as Fission's own default, `default`, which `fission fn create` uses.
 */
export function fissionPathNamespace(namespace: string): string {
  return namespace === defaultNamespace ? "default" : namespace;
}
