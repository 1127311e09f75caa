/**
 * `runlet faas-cli VERB …`: faas-cli's command lines, for the scripts and READMEs of OpenFaaS
 * users moving over. Each verb that needs no Docker is translated into the Runlet command that
 * does the same (`faas-cli up -f stack.yml` is `runlet deploy -f stack.yml`) and run in its
 * place; a verb or flag Runlet has no use for is refused, saying what to do instead.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { z } from "zod";
import { UserError } from "../../errors.js";
import { readStackFile } from "../../spec/stack-file.js";
import { defineCommand, type ForwardedCommand } from "../command.js";

type Options = NonNullable<ParseArgsConfig["options"]>;
type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** faas-cli's flags every verb takes. */
const common: Options = {
  gateway: { type: "string", short: "g" },
  namespace: { type: "string", short: "n" },
  "tls-no-verify": { type: "boolean" },
  token: { type: "string", short: "k" },
};

const stackFlags: Options = {
  yaml: { type: "string", short: "f" },
  filter: { type: "string" },
  regex: { type: "string" },
};

/** Verbs that need Docker or the internet, and what to run instead. */
const refusedVerbs: Readonly<Record<string, string>> = {
  new: "templates come from the internet in faas-cli; write the handler and stack.yml by hand, or start from runlet new NAME --runtime node",
  template: "Runlet has the OpenFaaS template languages built in (docs/compat.md): nothing to pull",
  store: "the function store is on the internet; deploy the function from its source",
  "registry-login": "Runlet uses no registry",
  publish: "there is no image to publish: runlet faas-cli push -f stack.yml tags the packages",
  generate:
    "there are no OpenFaaS CRDs to generate for Runlet: deploy -f stack.yml, or see docs/kubernetes.md",
};

function parse(verb: string, args: readonly string[], options: Options) {
  try {
    return parseArgs({
      args: [...args],
      options: { ...common, ...options },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UserError(
      "RUNLET_INVALID_REQUEST",
      `faas-cli ${verb}: ${error instanceof Error ? error.message : String(error)}; the flags runlet faas-cli ${verb} takes are ${Object.keys(
        { ...common, ...options },
      )
        .map((name) => `--${name}`)
        .join(", ")}`,
    );
  }
}

/** The Runlet client flags faas-cli's common ones stand for. */
function clientFlags(values: Values): string[] {
  const namespace = values.namespace;
  if (values["tls-no-verify"] === true) {
    throw new UserError(
      "RUNLET_INVALID_REQUEST",
      "--tls-no-verify: Runlet does not skip certificate checks; pass the gateway's certificate with --ca FILE (runlet up --tls prints where it is)",
    );
  }
  return [
    ...(typeof namespace === "string" ? ["--namespace", namespace] : []),
    ...(typeof values.gateway === "string" ? ["--gateway", values.gateway] : []),
    ...(typeof values.token === "string" ? ["--token", values.token] : []),
  ];
}

function stackFile(values: Values, cwd: string): string {
  const given = typeof values.yaml === "string" ? values.yaml : "stack.yml";
  if (
    !existsSync(resolve(cwd, given)) &&
    given === "stack.yml" &&
    existsSync(resolve(cwd, "stack.yaml"))
  ) {
    return "stack.yaml";
  }
  return given;
}

/** The functions of the stack file `--filter` / `--regex` pick (all of them without either). */
function pickedFunctions(values: Values, cwd: string): string[] {
  const { filter, regex } = values;
  if (filter === undefined && regex === undefined) {
    return [];
  }
  const file = resolve(cwd, stackFile(values, cwd));
  const stack = readStackFile(file);
  const names = [...stack.functions, ...(stack.broken ?? [])].map((fn) => fn.name);
  const picked = names.filter(
    (name) =>
      (typeof filter !== "string" || name === filter) &&
      (typeof regex !== "string" || new RegExp(regex).test(name)),
  );
  if (picked.length === 0) {
    throw new UserError(
      "RUNLET_INVALID_REQUEST",
      `no function of ${file} matches ${typeof filter === "string" ? `--filter ${filter}` : `--regex ${String(regex)}`}; it has ${names.join(", ")}`,
    );
  }
  return picked;
}

/** faas-cli's `-H k=v` as Runlet's `-H "k: v"`. */
function headers(values: Values): string[] {
  const given = values.header;
  return (Array.isArray(given) ? given : []).flatMap((header) => {
    const text = String(header);
    const eq = text.indexOf("=");
    if (eq <= 0) {
      throw new UserError(
        "RUNLET_INVALID_REQUEST",
        `--header ${text} is not KEY=VALUE; write it as faas-cli does, e.g. -H X-Api-Key=secret`,
      );
    }
    return ["-H", `${text.slice(0, eq)}: ${text.slice(eq + 1)}`];
  });
}

function strings(value: Values[string]): string[] {
  return (Array.isArray(value) ? value : value === undefined ? [] : [value]).map(String);
}

/** The Runlet command line of a faas-cli one. */
export function translateFaasCli(words: readonly string[], cwd: string): string[] {
  const [verb = "", ...rest] = words;
  const refused = refusedVerbs[verb];
  if (refused !== undefined) {
    throw new UserError(
      "RUNLET_INVALID_REQUEST",
      `faas-cli ${verb} is not supported by Runlet: ${refused}.`,
    );
  }
  switch (verb) {
    case "up":
    case "deploy": {
      const { values } = parse(verb, rest, {
        ...stackFlags,
        "skip-push": { type: "boolean" },
        "skip-deploy": { type: "boolean" },
        replace: { type: "boolean" },
        update: { type: "boolean" },
        image: { type: "string" },
        name: { type: "string" },
      });
      if (values.image !== undefined || values.name !== undefined) {
        throw new UserError(
          "RUNLET_INVALID_REQUEST",
          `faas-cli ${verb} --image/--name deploys an image, and Runlet deploys source: describe the function in stack.yml and run runlet faas-cli ${verb} -f stack.yml`,
        );
      }
      if (values["skip-deploy"] === true) {
        return ["version", ...clientFlags(values)];
      }
      return [
        "deploy",
        "-f",
        stackFile(values, cwd),
        ...pickedFunctions(values, cwd),
        ...clientFlags(values),
      ];
    }
    case "build":
    case "push": {
      // No image: the package is what is built and pushed, tagged with the image's name.
      const { values } = parse(verb, rest, {
        ...stackFlags,
        parallel: { type: "string" },
        "no-cache": { type: "boolean" },
        shrinkwrap: { type: "boolean" },
        tag: { type: "string" },
      });
      if (values.shrinkwrap === true || values.tag !== undefined) {
        throw new UserError(
          "RUNLET_INVALID_REQUEST",
          `faas-cli ${verb} ${values.shrinkwrap === true ? "--shrinkwrap" : "--tag"} is not supported by Runlet: the image: of stack.yml is the tag; drop the flag`,
        );
      }
      return [
        "push",
        "-f",
        stackFile(values, cwd),
        ...pickedFunctions(values, cwd),
        ...clientFlags(values),
      ];
    }
    case "remove":
    case "rm":
    case "delete": {
      const { values, positionals } = parse(verb, rest, stackFlags);
      const names =
        positionals.length > 0
          ? positionals
          : pickedFunctions(values, cwd).length > 0
            ? pickedFunctions(values, cwd)
            : readStackFile(resolve(cwd, stackFile(values, cwd))).functions.map((fn) => fn.name);
      return ["remove", ...names, ...clientFlags(values)];
    }
    case "invoke": {
      const { values, positionals } = parse(verb, rest, {
        header: { type: "string", short: "H", multiple: true },
        method: { type: "string", short: "m" },
        query: { type: "string", short: "q", multiple: true },
        async: { type: "boolean", short: "a" },
        "content-type": { type: "string" },
        "status-code": { type: "boolean" },
        key: { type: "string" },
        sign: { type: "string" },
      });
      const [name] = positionals;
      if (name === undefined) {
        throw new UserError(
          "RUNLET_INVALID_REQUEST",
          "faas-cli invoke needs the function's name, e.g. echo hi | runlet faas-cli invoke hello",
        );
      }
      if (values.key !== undefined || values.sign !== undefined) {
        throw new UserError(
          "RUNLET_INVALID_REQUEST",
          "faas-cli invoke --sign/--key: Runlet's auth: signed functions check X-Hub-Signature-256; send it with -H X-Hub-Signature-256=sha256=HEX",
        );
      }
      return [
        "invoke",
        name,
        ...headers(values),
        ...(typeof values["content-type"] === "string"
          ? ["-H", `Content-Type: ${values["content-type"]}`]
          : []),
        ...(typeof values.method === "string" ? ["-X", values.method] : []),
        ...strings(values.query).flatMap((q) => ["--query", q]),
        ...(values.async === true ? ["--async"] : []),
        ...(values["status-code"] === true ? ["--verbose"] : []),
        ...clientFlags(values),
      ];
    }
    case "list":
    case "ls": {
      const { values } = parse(verb, rest, {
        verbose: { type: "boolean", short: "v" },
        quiet: { type: "boolean", short: "q" },
      });
      return ["list", ...clientFlags(values)];
    }
    case "describe": {
      const { values, positionals } = parse(verb, rest, {});
      return ["describe", ...positionals, ...clientFlags(values)];
    }
    case "logs": {
      // faas-cli follows by default; --tail=false prints what is there and stops.
      const follow = !rest.includes("--tail=false");
      const { values, positionals } = parse(
        verb,
        rest.filter((word) => word !== "--tail=false"),
        { tail: { type: "boolean" }, lines: { type: "string" }, since: { type: "string" } },
      );
      return [
        "logs",
        ...positionals,
        ...(follow ? ["--follow"] : []),
        ...(typeof values.lines === "string" ? ["--tail", values.lines] : []),
        ...(typeof values.since === "string" ? ["--since", values.since] : []),
        ...clientFlags(values),
      ];
    }
    case "secret": {
      const [action = "", ...secretArgs] = rest;
      const { values, positionals } = parse(`secret ${action}`, secretArgs, {
        "from-literal": { type: "string" },
        "from-file": { type: "string" },
        trim: { type: "boolean" },
      });
      const literal = values["from-literal"];
      const file = values["from-file"];
      const value = [
        ...(typeof literal === "string" ? ["--from-literal", literal] : []),
        ...(typeof file === "string" ? ["--from-file", file] : []),
      ];
      if (action === "create" || action === "update") {
        return ["secret", "create", ...positionals, ...value, ...clientFlags(values)];
      }
      if (action === "list" || action === "ls") {
        return ["secret", "list", ...clientFlags(values)];
      }
      if (action === "remove" || action === "rm") {
        return ["secret", "remove", ...positionals, ...clientFlags(values)];
      }
      throw new UserError(
        "RUNLET_INVALID_REQUEST",
        `faas-cli secret ${action}: use create, update, list or remove`,
      );
    }
    case "login": {
      const { values } = parse(verb, rest, {
        username: { type: "string", short: "u" },
        password: { type: "string", short: "p" },
        "password-stdin": { type: "boolean", short: "s" },
      });
      return [
        "login",
        ...(typeof values.gateway === "string" ? ["--gateway", values.gateway] : []),
        ...(typeof values.password === "string" ? ["--token", values.password] : []),
        ...(values["password-stdin"] === true ? ["--token-stdin"] : []),
      ];
    }
    case "logout":
      return [
        "logout",
        ...strings(parse(verb, rest, {}).values.gateway).flatMap((g) => ["--gateway", g]),
      ];
    case "version": {
      const { values } = parse(verb, rest, { "short-version": { type: "boolean" } });
      return ["version", ...clientFlags(values)];
    }
    default:
      throw new UserError(
        "RUNLET_INVALID_REQUEST",
        `faas-cli ${verb || "(no verb)"} is not a verb Runlet knows; it runs up, deploy, build, push, remove, invoke, list, describe, logs, secret create|update|list|remove, login, logout and version`,
      );
  }
}

export const faasCliCommand = defineCommand({
  name: "faas-cli",
  arguments: "[words...]",
  description: "faas-cli's command lines (up, deploy, invoke, list, logs, secret …) on Runlet",
  passThrough: true,
  examples: [
    "runlet faas-cli up -f stack.yml",
    "echo hi | runlet faas-cli invoke hello -H X-Trace=1",
    "runlet faas-cli secret create api-key --from-literal s3cr3t",
  ],
  optionsSchema: z.object({}),
  async run(args, _options, io): Promise<ForwardedCommand> {
    const words = (args[0] as string[] | undefined) ?? [];
    return { forward: translateFaasCli(words, io.cwd) };
  },
});
