/**
 * Hard limits for instances through cgroups, v1 or v2 (whichever the host has): memory, CPU
 * and pids. Each instance gets its own group under the platform's own group, joined before
 * the runtime execs, so everything the function spawns is inside it too.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { mkdir, readdir, readFile, rmdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";

export interface CgroupLimits {
  readonly memoryBytes?: number;
  /** Cores, e.g. 0.5. */
  readonly cpu?: number;
  readonly pids?: number;
}

type Controller = "memory" | "cpu" | "pids";

interface Layout {
  readonly version: 1 | 2;
  /** Directory under which instance groups are created, per controller (v2: one for all). */
  readonly parents: Readonly<Record<Controller, string>>;
}

/** Finds where this process's cgroups live and prepares a parent group for instances. */
export async function detectCgroups(name: string): Promise<CgroupHierarchy | undefined> {
  if (process.platform !== "linux") {
    return undefined;
  }
  try {
    const layout = (await v1Layout(name)) ?? (await v2Layout(name));
    return layout ? new CgroupHierarchy(layout) : undefined;
  } catch {
    return undefined;
  }
}

function ownPaths(): Map<string, string> {
  const paths = new Map<string, string>();
  for (const line of readFileSync("/proc/self/cgroup", "utf8").split("\n")) {
    const [, controllers, path] = line.split(":");
    if (controllers === undefined || path === undefined) {
      continue;
    }
    for (const controller of controllers.split(",")) {
      paths.set(controller, path);
    }
  }
  return paths;
}

async function v1Layout(name: string): Promise<Layout | undefined> {
  const own = ownPaths();
  const parents: Partial<Record<Controller, string>> = {};
  for (const controller of ["memory", "cpu", "pids"] as const) {
    const mount = `/sys/fs/cgroup/${controller}`;
    const path = own.get(controller);
    if (!existsSync(join(mount, "cgroup.procs")) || path === undefined) {
      return undefined;
    }
    const parent = join(mount, path, name);
    await mkdir(parent, { recursive: true });
    parents[controller] = parent;
  }
  const { memory, cpu, pids } = parents;
  return memory && cpu && pids ? { version: 1, parents: { memory, cpu, pids } } : undefined;
}

async function v2Layout(name: string): Promise<Layout | undefined> {
  const root = "/sys/fs/cgroup";
  if (!existsSync(join(root, "cgroup.controllers"))) {
    return undefined;
  }
  const own = ownPaths().get("") ?? "/";
  const parent = join(root, own, name);
  await mkdir(parent, { recursive: true });
  // Controllers must be enabled on every level down to the instance groups; a group with
  // processes of its own cannot hand controllers down ("no internal processes"), so the
  // platform's own group may refuse: then there are no limits.
  await writeFile(join(root, own, "cgroup.subtree_control"), "+memory +cpu +pids");
  await writeFile(join(parent, "cgroup.subtree_control"), "+memory +cpu +pids");
  return { version: 2, parents: { memory: parent, cpu: parent, pids: parent } };
}

export class CgroupHierarchy {
  readonly version: 1 | 2;
  readonly #layout: Layout;

  constructor(layout: Layout) {
    this.version = layout.version;
    this.#layout = layout;
  }

  async create(id: string): Promise<InstanceCgroup> {
    const dirs = [
      ...new Set(Object.values(this.#layout.parents).map((parent) => join(parent, id))),
    ];
    for (const dir of dirs) {
      await mkdir(dir, { recursive: true });
    }
    const dirOf = (controller: Controller): string => join(this.#layout.parents[controller], id);
    return new InstanceCgroup(this.version, dirs, dirOf);
  }

  /**
   * Removes the groups beside this platform's parent group that `isLeftover` names (another
   * platform's, one that is gone), killing what still runs in them, instances first.
   */
  async removeSiblings(isLeftover: (name: string) => boolean): Promise<void> {
    const containers = new Set(Object.values(this.#layout.parents).map((p) => dirname(p)));
    for (const container of containers) {
      for (const name of await readdir(container).catch(() => [] as string[])) {
        if (!isLeftover(name)) {
          continue;
        }
        const parent = join(container, name);
        const instances = (await readdir(parent, { withFileTypes: true }).catch(() => []))
          .filter((entry) => entry.isDirectory())
          .map((entry) => join(parent, entry.name));
        for (const dir of [...instances, parent]) {
          await new InstanceCgroup(this.version, [dir], () => dir).remove();
        }
      }
    }
  }

  /** Removes the parent groups (instances must be gone). */
  async close(): Promise<void> {
    for (const parent of new Set(Object.values(this.#layout.parents))) {
      await rmdir(parent).catch(() => undefined);
    }
  }
}

export class InstanceCgroup {
  readonly #version: 1 | 2;
  readonly #dirs: readonly string[];
  readonly #dirOf: (controller: Controller) => string;

  constructor(version: 1 | 2, dirs: readonly string[], dirOf: (controller: Controller) => string) {
    this.#version = version;
    this.#dirs = dirs;
    this.#dirOf = dirOf;
  }

  /** The files a process writes its pid to, to join the group. */
  get procsFiles(): string[] {
    return this.#dirs.map((dir) => join(dir, "cgroup.procs"));
  }

  /**
   * Writes the limits. Synchronous on purpose: these are a handful of tiny writes to a
   * kernel file system on the cold-start path, where each async round trip costs more than
   * the write itself.
   */
  setLimits(limits: CgroupLimits): void {
    if (limits.memoryBytes !== undefined) {
      const dir = this.#dirOf("memory");
      if (this.#version === 1) {
        // memory.memsw.limit_in_bytes (present with swap accounting) must never be below
        // memory.limit_in_bytes: lift it, set the limit, then pin swap to the same value.
        const memsw = join(dir, "memory.memsw.limit_in_bytes");
        const hasMemsw = existsSync(memsw);
        if (hasMemsw) {
          writeFileSync(memsw, "-1");
        }
        writeFileSync(join(dir, "memory.limit_in_bytes"), String(limits.memoryBytes));
        if (hasMemsw) {
          writeFileSync(memsw, String(limits.memoryBytes));
        }
      } else {
        writeFileSync(join(dir, "memory.max"), String(limits.memoryBytes));
        try {
          writeFileSync(join(dir, "memory.swap.max"), "0");
        } catch {
          // No swap controller: nothing to pin.
        }
      }
    }
    if (limits.pids !== undefined) {
      writeFileSync(join(this.#dirOf("pids"), "pids.max"), String(limits.pids));
    }
    const period = 100_000;
    const quota =
      limits.cpu === undefined ? undefined : Math.max(1000, Math.round(limits.cpu * period));
    if (this.#version === 1) {
      writeFileSync(join(this.#dirOf("cpu"), "cpu.cfs_period_us"), String(period));
      writeFileSync(join(this.#dirOf("cpu"), "cpu.cfs_quota_us"), String(quota ?? -1));
    } else {
      writeFileSync(join(this.#dirOf("cpu"), "cpu.max"), `${quota ?? "max"} ${period}`);
    }
  }

  /** How many times the kernel killed a process of this group for memory. */
  oomKills(): number {
    const file = this.#version === 1 ? "memory.oom_control" : "memory.events";
    try {
      const match = /^oom_kill (\d+)$/m.exec(
        readFileSync(join(this.#dirOf("memory"), file), "utf8"),
      );
      return match ? Number(match[1]) : 0;
    } catch {
      return 0;
    }
  }

  /** Times a fork was refused by the pids limit. */
  pidsRefused(): number {
    try {
      const match = /^max (\d+)$/m.exec(
        readFileSync(join(this.#dirOf("pids"), "pids.events"), "utf8"),
      );
      return match ? Number(match[1]) : 0;
    } catch {
      return 0;
    }
  }

  /** Kills every process left in the group (a function's own children included). */
  async killAll(): Promise<void> {
    if (this.#version === 2 && existsSync(join(this.#dirOf("pids"), "cgroup.kill"))) {
      await writeFile(join(this.#dirOf("pids"), "cgroup.kill"), "1").catch(() => undefined);
      return;
    }
    for (const file of this.procsFiles) {
      const pids = await readFile(file, "utf8").catch(() => "");
      for (const pid of pids.split("\n").filter(Boolean)) {
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch {
          // Already gone.
        }
      }
    }
  }

  async remove(): Promise<void> {
    for (let attempt = 0; attempt < 50; attempt += 1) {
      const results = await Promise.all(
        this.#dirs.map((dir) =>
          rmdir(dir).then(
            () => true,
            (error: NodeJS.ErrnoException) => error.code === "ENOENT",
          ),
        ),
      );
      if (results.every(Boolean)) {
        return;
      }
      // A group empties a moment after its last process exits.
      await this.killAll();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}
