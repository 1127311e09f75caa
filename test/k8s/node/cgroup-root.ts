// The kubelet's own cgroup subtree on the real test node (issue 15), made in every cgroup hierarchy before the kubelet starts.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import * as path from "node:path";

/**
 * Makes `name` (e.g. `/runlet-k8s-ab12cd`) in each cgroup hierarchy: the kubelet refuses a
 * cgroupRoot that is missing from any of them, and on cgroup v1 there is one per controller.
 * The name is written to `<run dir>/cgroup-root` first, so teardown.sh removes whatever part
 * was made even if this fails halfway.
 */
export async function createCgroupRoot(runDir: string, name: string): Promise<void> {
  if (!/^\/runlet-k8s-[a-z0-9-]+$/.test(name)) {
    throw new Error(`cgroup root ${name} is not one teardown.sh would remove`);
  }
  await writeFile(path.join(runDir, "cgroup-root"), `${name}\n`);
  const mounts = await cgroupMounts();
  if (mounts.v1.length === 0 && mounts.v2 === undefined) {
    throw new Error("no cgroup hierarchy is mounted");
  }
  // On a v1 (or hybrid) machine the kubelet uses the v1 hierarchies; the unified one is left
  // to runc. On a pure v2 machine the one tree is all there is.
  const hierarchies = mounts.v1.length > 0 ? mounts.v1 : [mounts.v2 ?? ""];
  for (const hierarchy of hierarchies) {
    const dir = path.join(hierarchy, name);
    await mkdir(dir, { recursive: true });
    // A new cpuset has no CPUs and no memory nodes until it is given its parent's. (Read and
    // written, not copied: cgroup files report a size of 0.)
    for (const file of ["cpuset.cpus", "cpuset.mems"]) {
      try {
        await writeFile(path.join(dir, file), await readFile(path.join(hierarchy, file)));
      } catch (error) {
        if (!isNotFound(error)) {
          throw error;
        }
      }
    }
  }
}

async function cgroupMounts(): Promise<{ v1: string[]; v2: string | undefined }> {
  const v1: string[] = [];
  let v2: string | undefined;
  for (const line of (await readFile("/proc/self/mountinfo", "utf8")).split("\n")) {
    // "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS"
    const [before, after] = line.split(" - ");
    const mountPoint = before?.split(" ")[4];
    const fsType = after?.split(" ")[0];
    if (mountPoint === undefined || fsType === undefined) {
      continue;
    }
    if (fsType === "cgroup") {
      v1.push(mountPoint);
    } else if (fsType === "cgroup2") {
      v2 = mountPoint;
    }
  }
  return { v1, v2 };
}

function isNotFound(error: unknown): boolean {
  return error instanceof Error && "code" in error && error.code === "ENOENT";
}
