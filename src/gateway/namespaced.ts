/**
 * The keys a control request's names stand for: NAME in the namespace the request acts in
 * (access.ts: `?namespace=`, else the body's, else the default), qualified as the stores key
 * objects (spec/namespaces.ts).
 */
import type { FastifyRequest } from "fastify";
import { z } from "zod";
import { assertValidName } from "../spec/names.js";
import {
  isInNamespace,
  namespaceOfKey,
  qualifiedName,
  splitQualifiedName,
} from "../spec/namespaces.js";
import { parseTarget } from "../spec/trigger-spec.js";
import type { TriggerView } from "../triggers/triggers.js";
import { namespaceOf } from "./access.js";

/**
 * `?namespace=` in a strict query schema: the access check reads and validates it (access.ts),
 * the route's schema only lets it through.
 */
export const namespaceQueryParam = z.string().optional();

/** The key of `name` (a valid name, else 400 naming what it is) in the request's namespace. */
export function keyIn(request: FastifyRequest, name: string, what = "function"): string {
  assertValidName(name, what);
  return qualifiedName(name, namespaceOf(request));
}

/** Whether the object keyed `key` is in the request's namespace (lists show only those). */
export function inRequestNamespace(request: FastifyRequest): (key: string) => boolean {
  const namespace = namespaceOf(request);
  return (key) => isInNamespace(key, namespace);
}

/**
 * The key of trigger `name` in the request's namespace. A trigger a function's spec declares
 * is named after the function ("hello.cron-1") and keyed after the function's key
 * ("hello.team-a.cron-1"); one made by the API is keyed as any object is.
 */
export function triggerKeyIn(request: FastifyRequest, name: string): string {
  const namespace = namespaceOf(request);
  const dot = name.indexOf(".");
  if (dot < 0) {
    return keyIn(request, name, "trigger");
  }
  return `${qualifiedName(name.slice(0, dot), namespace)}${name.slice(dot)}`;
}

/** "hello@3" of the request's namespace, as the stores key it ("hello.team-a@3"). */
export function targetKeyIn(request: FastifyRequest, target: string): string {
  const { functionName, revision } = parseTarget(target);
  const key = qualifiedName(functionName, namespaceOf(request));
  return revision === undefined ? key : `${key}@${revision}`;
}

/** A trigger as its namespace sees it: names bare, and the namespace beside them. */
export function triggerView(view: TriggerView): TriggerView & { readonly namespace: string } {
  const { functionName, revision } = parseTarget(view.function);
  const { name: fn, namespace } = splitQualifiedName(functionName);
  const bareTarget = revision === undefined ? fn : `${fn}@${revision}`;
  const name =
    view.origin === "spec"
      ? `${fn}${view.name.slice(functionName.length)}`
      : splitQualifiedName(view.name).name;
  return { ...view, name, function: bareTarget, namespace };
}

/** The namespace of a trigger (its function's). */
export function triggerNamespace(view: TriggerView): string {
  return namespaceOfKey(parseTarget(view.function).functionName);
}
