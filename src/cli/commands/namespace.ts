/**
 * `runlet namespace list|quota`: the namespaces in use with what each holds, and their quotas
 * (functions, instances, instance memory), which only the admin token sets.
 */
import { z } from "zod";
import { resolveTarget } from "../client-config.js";
import { GatewayClient } from "../client.js";
import { clientFlagsSchema, defineCommand } from "../command.js";
import { line, table } from "../io.js";

interface NamespaceView {
  name: string;
  usage: { functions: number; instances: number; memory: string };
  quota?: { functions?: number; instances?: number; memory?: string };
}

const of = (used: number | string, most: number | string | undefined): string =>
  most === undefined ? String(used) : `${used}/${most}`;

export const namespaceListCommand = defineCommand({
  name: "namespace list",
  description: "list the namespaces in use, what each holds and its quota (admin token)",
  client: true,
  json: true,
  optionsSchema: clientFlagsSchema.extend({ json: z.boolean().optional() }),
  async run(_args, options, io) {
    const client = new GatewayClient(resolveTarget(options, io.env));
    const namespaces = await client.json<NamespaceView[]>("GET", "/api/v1/namespaces");
    if (options.json) {
      line(io.stdout, JSON.stringify(namespaces, null, 2));
      return;
    }
    line(
      io.stdout,
      table([
        ["NAMESPACE", "FUNCTIONS", "INSTANCES", "MEMORY"],
        ...namespaces.map((ns) => [
          ns.name,
          of(ns.usage.functions, ns.quota?.functions),
          of(ns.usage.instances, ns.quota?.instances),
          of(ns.usage.memory, ns.quota?.memory),
        ]),
      ]),
    );
  },
});

export const namespaceQuotaCommand = defineCommand({
  name: "namespace quota",
  arguments: "<namespace>",
  description: "set a namespace's quota (admin token); instances past it are not started",
  client: true,
  json: true,
  options: [
    { flags: "--functions <n>", description: "most functions it may have deployed" },
    { flags: "--instances <n>", description: "most instances running at once" },
    { flags: "--memory <size>", description: "most instance memory at once, e.g. 2Gi" },
    { flags: "--clear", description: "remove its quota" },
  ],
  examples: [
    "runlet namespace quota team-a --functions 20 --instances 10 --memory 2Gi",
    "runlet namespace quota team-a --clear",
  ],
  optionsSchema: clientFlagsSchema.extend({
    functions: z.coerce.number().int().min(0).optional(),
    instances: z.coerce.number().int().min(0).optional(),
    memory: z.string().optional(),
    clear: z.boolean().optional(),
    json: z.boolean().optional(),
  }),
  async run(args, options, io) {
    const client = new GatewayClient(resolveTarget(options, io.env));
    const namespace = String(args[0]);
    const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/quota`;
    if (options.clear) {
      await client.json("DELETE", path);
      line(io.stdout, `✔ namespace ${namespace} has no quota`);
      return;
    }
    const view = await client.json<NamespaceView>("PUT", path, {
      ...(options.functions === undefined ? {} : { functions: options.functions }),
      ...(options.instances === undefined ? {} : { instances: options.instances }),
      ...(options.memory === undefined ? {} : { memory: options.memory }),
    });
    if (options.json) {
      line(io.stdout, JSON.stringify(view, null, 2));
      return;
    }
    const quota = view.quota ?? {};
    line(
      io.stdout,
      `✔ namespace ${namespace}: functions ${of(view.usage.functions, quota.functions)}, instances ${of(view.usage.instances, quota.instances)}, memory ${of(view.usage.memory, quota.memory)}`,
    );
  },
});
