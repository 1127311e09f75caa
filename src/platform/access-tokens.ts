/**
 * Making, listing and revoking scoped tokens and function invoke keys (issue 18). A token is
 * returned once, when made; only its SHA-256 is kept. Who may do which of these is decided by
 * the gateway's access check (src/gateway/access.ts) before these run.
 */
import { splitQualifiedName } from "../spec/namespaces.js";
import { randomBytes } from "node:crypto";
import { z } from "zod";
import { roles, type Principal } from "../auth/roles.js";
import { newToken, tokenDigest } from "../auth/token-format.js";
import { UserError } from "../errors.js";
import { defaultFunctionNamespace } from "../kubernetes/names.js";
import { assertValidName } from "../spec/names.js";
import { rateSchema } from "../spec/rate.js";
import { parseDuration } from "../spec/units.js";
import type { TokenRecord, TokenStore } from "../store/token-store.js";

export const tokenRequestSchema = z.strictObject({
  name: z.string(),
  /** @default "openfaas-fn" */
  namespace: z.string().min(1).optional(),
  role: z.enum(roles, {
    error: () => `role must be one of ${roles.join(", ")}`,
  }),
  /** How long the token works, e.g. "30d", "12h". @default forever */
  expires: z.string().optional(),
  /** Most requests it may make, e.g. "100/s" (429 past it). @default no limit */
  rate: rateSchema.optional(),
});
export type TokenRequest = z.infer<typeof tokenRequestSchema>;

export const functionKeyRequestSchema = z.strictObject({
  /** @default "<function>-key-<6 hex>" */
  name: z.string().optional(),
  expires: z.string().optional(),
  rate: rateSchema.optional(),
});

/** A token as the API shows it: never the token or its digest. */
export interface TokenView {
  readonly name: string;
  readonly namespace: string;
  readonly role: string;
  readonly function?: string;
  readonly createdAt: string;
  readonly createdBy: string;
  readonly expiresAt?: string;
  readonly rate?: string;
}

export function tokenView(record: TokenRecord): TokenView {
  return {
    name: record.name,
    namespace: record.namespace,
    role: record.role,
    ...(record.function === undefined
      ? {}
      : { function: splitQualifiedName(record.function).name }),
    createdAt: new Date(record.createdAt).toISOString(),
    createdBy: record.createdBy,
    ...(record.expiresAt === undefined
      ? {}
      : { expiresAt: new Date(record.expiresAt).toISOString() }),
    ...(record.rate === undefined ? {} : { rate: record.rate }),
  };
}

/** "30d", "12h", "90m": milliseconds. */
export function parseExpiry(text: string): number {
  const days = /^(\d+)d$/.exec(text.trim());
  const ms = days ? Number(days[1]) * 86_400_000 : parseDuration(text);
  if (ms === undefined || ms <= 0) {
    throw new UserError(
      "RUNLET_INVALID_REQUEST",
      `expires ${JSON.stringify(text)} is not a duration; use e.g. 30d, 12h or 90m.`,
    );
  }
  return ms;
}

export interface CreatedToken extends TokenView {
  /** Shown once. */
  readonly token: string;
}

async function store(
  tokens: TokenStore,
  fields: Omit<TokenRecord, "digest" | "createdAt" | "createdBy" | "expiresAt">,
  expires: string | undefined,
  creator: Principal,
): Promise<CreatedToken> {
  assertValidName(fields.name, "token");
  if (fields.name === "admin") {
    throw new UserError(
      "RUNLET_INVALID_NAME",
      "Invalid token name: admin is the admin token's user name; pick another name.",
    );
  }
  const token = newToken();
  const now = Date.now();
  const record: TokenRecord = {
    ...fields,
    digest: tokenDigest(token),
    createdAt: now,
    createdBy: creator.kind === "admin" ? "admin" : creator.name,
    expiresAt: expires === undefined ? undefined : now + parseExpiry(expires),
  };
  await tokens.create(record);
  return { ...tokenView(record), token };
}

export function createToken(
  tokens: TokenStore,
  request: TokenRequest,
  creator: Principal,
): Promise<CreatedToken> {
  const namespace = request.namespace ?? defaultFunctionNamespace;
  assertValidName(namespace, "namespace");
  return store(
    tokens,
    { name: request.name, namespace, role: request.role, function: undefined, rate: request.rate },
    request.expires,
    creator,
  );
}

/** An invoke key of one function: a token of role invoker that calls only that function. */
export function createFunctionKey(
  tokens: TokenStore,
  functionName: string,
  request: z.infer<typeof functionKeyRequestSchema>,
  creator: Principal,
): Promise<CreatedToken> {
  // `functionName` is the function's key (NAME or NAME.NAMESPACE): the key acts in its namespace.
  const { name: bare, namespace } = splitQualifiedName(functionName);
  const name = request.name ?? `${bare.slice(0, 52)}-key-${randomBytes(3).toString("hex")}`;
  return store(
    tokens,
    {
      name,
      namespace,
      role: "invoker",
      function: functionName,
      rate: request.rate,
    },
    request.expires,
    creator,
  );
}

export function tokenNotFound(name: string): UserError {
  return new UserError(
    "RUNLET_NOT_FOUND",
    `No token named ${name}; see the tokens with: runlet token list`,
  );
}
