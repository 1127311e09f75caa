/**
 * Who may do what (issue 18): the roles a scoped token carries, the rights each role grants,
 * and the one check every control route and every protected call goes through. A token
 * belongs to one namespace and acts only there; the admin token is the superuser of all.
 * Stores that hold objects per namespace call `authorize` with the object's namespace, so the
 * rule stays in this one place.
 */

export const roles = ["admin", "deployer", "invoker", "viewer"] as const;
export type Role = (typeof roles)[number];

/** The rights routes ask for, each with the words a refusal uses. */
export const rights = {
  identify: { verb: "say who it is", noun: "saying who a token is" },
  view: { verb: "view", noun: "viewing" },
  invoke: { verb: "invoke functions", noun: "invoking a function that needs a credential" },
  deploy: { verb: "deploy", noun: "deploying" },
  manageTokens: { verb: "manage tokens", noun: "managing tokens" },
  readAudit: { verb: "read the audit log", noun: "reading the audit log" },
  superuser: { verb: "do this", noun: "this" },
} as const;
export type Right = keyof typeof rights;

/**
 * The rights of each role. An invoker only calls functions (a client of them sees nothing
 * else); a viewer only reads; a deployer changes functions, secrets and triggers and may call
 * and read; a namespace admin also manages the namespace's tokens and reads its audit log.
 * No role has `superuser`: only the admin token does (cluster-wide actions).
 */
const rightsOf: Readonly<Record<Role, ReadonlySet<Right>>> = {
  viewer: new Set(["identify", "view"]),
  invoker: new Set(["identify", "invoke"]),
  deployer: new Set(["identify", "view", "invoke", "deploy"]),
  admin: new Set(["identify", "view", "invoke", "deploy", "manageTokens", "readAudit"]),
};

/** Who a request authenticated as. */
export type Principal =
  | { readonly kind: "admin" }
  | {
      readonly kind: "token";
      readonly name: string;
      readonly namespace: string;
      readonly role: Role;
      /** Set for a function's invoke key: it calls that one function and nothing else. */
      readonly function: string | undefined;
      /** The token's own rate limit ("100/s"), if it has one. */
      readonly rate?: string | undefined;
    };

export const adminPrincipal: Principal = { kind: "admin" };

/** The rights a role grants. */
export function roleHas(role: Role, right: Right): boolean {
  return rightsOf[role].has(right);
}

/** From the narrowest role to the widest, as messages list them. */
const narrowFirst: readonly Role[] = ["viewer", "invoker", "deployer", "admin"];

/** The roles that grant `right`, for messages. */
export function rolesWith(right: Right): Role[] {
  return narrowFirst.filter((role) => roleHas(role, right));
}

/** Who the principal is, as the audit log and messages name it. */
export function principalName(principal: Principal): string {
  return principal.kind === "admin" ? "admin" : principal.name;
}

/**
 * Whether `principal` may use `right` on objects of `namespace` (and, for invoke, on function
 * `functionName`): undefined when it may, else the refusal's message, which names the right
 * that is missing.
 */
export function authorize(
  principal: Principal,
  right: Right,
  namespace: string,
  functionName?: string,
): string | undefined {
  if (principal.kind === "admin") {
    return undefined;
  }
  const who = principal.function
    ? `key ${principal.name} (invoke key of function ${principal.function})`
    : `token ${principal.name} (role ${principal.role}, namespace ${principal.namespace})`;
  const { verb, noun } = rights[right];
  if (!roleHas(principal.role, right)) {
    if (right === "superuser") {
      return `${who} may not ${verb}: it needs the admin token`;
    }
    return `${who} may not ${verb}: ${noun} needs role ${orList(rolesWith(right))}`;
  }
  if (principal.namespace !== namespace) {
    return `${who} may not ${verb} in namespace ${namespace}: it acts only in namespace ${principal.namespace}; use a token of namespace ${namespace}`;
  }
  if (principal.function !== undefined && functionName !== principal.function) {
    return `${who} may not ${verb} ${functionName ?? "here"}: it calls only function ${principal.function}`;
  }
  return undefined;
}

function orList(items: readonly string[]): string {
  if (items.length <= 1) {
    return items.join("");
  }
  return `${items.slice(0, -1).join(", ")} or ${items[items.length - 1] ?? ""}`;
}
