/**
 * Issue 13, items 1, 4 and 5, performed for real from inside deployed functions (and a build's
 * install script): host kernel settings, host disk and host loopback services stay out of
 * reach.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it, onTestFinished } from "vitest";
import { outboundRuleset } from "../../src/provider/local/outbound-network.js";
import { deployStreamed } from "../build/build-helpers.js";
import { startTestRunlet } from "../helpers/runlet.js";

const printk = "/proc/sys/kernel/printk_ratelimit";
const burst = "/proc/sys/kernel/printk_ratelimit_burst";
const corePattern = "/proc/sys/kernel/core_pattern";

/**
 * Reads the host's values, and puts them back after the test should an attack ever succeed.
 * Only the printk rate limits are written with new values; core_pattern is written with the
 * value it already has, which proves it writable without changing what the host does.
 */
function guardHostValues(): { printk: string; burst: string; corePattern: string } {
  const read = (path: string): string => readFileSync(path, "utf8").trim();
  const before = { printk: read(printk), burst: read(burst), corePattern: read(corePattern) };
  onTestFinished(() => {
    for (const [path, value] of [
      [printk, before.printk],
      [burst, before.burst],
      [corePattern, before.corePattern],
    ] as const) {
      if (read(path) !== value) {
        writeFileSync(path, value);
      }
    }
  });
  return before;
}

/**
 * A Node function that tries every write a hostile function would: the printk rate limit with
 * a new value, core_pattern, and an open for writing (nothing written) of every file under
 * /proc/sys and /sys and of /proc/sysrq-trigger.
 */
const nodeAttacker = `import { closeSync, constants, existsSync, openSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
export default async (event) => {
  const opened = [];
  const tryOpen = (path) => {
    try { closeSync(openSync(path, constants.O_WRONLY)); opened.push(path); } catch {}
  };
  const walk = (dir) => {
    let entries = [];
    try { entries = readdirSync(dir, { withFileTypes: true }); } catch { return; }
    for (const entry of entries) {
      const path = dir + "/" + entry.name;
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) tryOpen(path);
    }
  };
  walk("/proc/sys");
  walk("/sys");
  tryOpen("/proc/sysrq-trigger");
  tryOpen("${corePattern}");
  let printk = "written";
  try { writeFileSync("${printk}", String(Number(event.query.value))); } catch (error) { printk = error.code; }
  return { opened, printk, uidMap: readFileSync("/proc/self/uid_map", "utf8").trim() };
};
`;

describe("host kernel settings (item 1)", () => {
  it("refuses every write under /proc/sys and /sys from a Node function, and the host value stays", async () => {
    const before = guardHostValues().printk;
    const runlet = await startTestRunlet({ poolSize: 1 });
    expect((await runlet.deploy("sysctl", { "index.js": nodeAttacker })).status).toBe(201);
    const answer = await fetch(`${runlet.url}/function/sysctl?value=${Number(before) + 1}`);
    const result = (await answer.json()) as { opened: string[]; printk: string; uidMap: string };
    expect(result.opened).toEqual([]);
    expect(result.printk).toMatch(/^(EROFS|EACCES|EPERM)$/);
    expect(readFileSync(printk, "utf8").trim()).toBe(before);
  });

  it("refuses the same writes from a Python function and an exec function", async () => {
    const host = guardHostValues();
    const before = host.printk;
    const runlet = await startTestRunlet({ poolSize: 0 });
    const python = `def handle(event, context):
    results = {}
    for path, value in (("${printk}", "${Number(before) + 1}"), ("${corePattern}", ${JSON.stringify(host.corePattern)})):
        try:
            with open(path, "w") as f:
                f.write(value)
            results[path] = "written"
        except OSError as error:
            results[path] = type(error).__name__
    return results
`;
    expect(
      (await runlet.deploy("py-sysctl", { "handler.py": python }, { runtime: "python" })).status,
    ).toBe(201);
    const fromPython = (await (await fetch(`${runlet.url}/function/py-sysctl`)).json()) as Record<
      string,
      string
    >;
    expect(Object.values(fromPython)).toHaveLength(2);
    for (const outcome of Object.values(fromPython)) {
      expect(outcome).not.toBe("written");
    }
    const script = `for f in ${printk} ${burst}; do
  if (echo ${Number(before) + 1} > "$f") 2>/dev/null; then echo "written $f"; else echo "refused $f"; fi
done
if (printf '%s\\n' '${host.corePattern}' > ${corePattern}) 2>/dev/null; then echo "written ${corePattern}"; else echo "refused ${corePattern}"; fi
`;
    expect(
      (
        await runlet.deploy(
          "sh-sysctl",
          { "attack.sh": script },
          { runtime: "exec", command: "sh attack.sh" },
        )
      ).status,
    ).toBe(201);
    const fromExec = await (await fetch(`${runlet.url}/function/sh-sysctl`)).text();
    expect(fromExec.trim().split("\n")).toEqual([
      `refused ${printk}`,
      `refused ${burst}`,
      `refused ${corePattern}`,
    ]);
    expect(readFileSync(printk, "utf8").trim()).toBe(before);
  });

  it("refuses the writes to an npm install script in the build sandbox", async () => {
    const host = guardHostValues();
    const before = host.printk;
    const runlet = await startTestRunlet({ poolSize: 0 });
    const attack = [
      `const fs = require("fs");`,
      `for (const [path, value] of [["${printk}", "${Number(before) + 1}"], ["${corePattern}", String.fromCharCode(${[...host.corePattern].map((c) => c.charCodeAt(0)).join(",")})]]) {`,
      `  try { fs.writeFileSync(path, value); console.log("ATTACK written " + path); }`,
      `  catch (error) { console.log("ATTACK refused " + path + " " + error.code); }`,
      `}`,
    ].join(" ");
    const deployed = await deployStreamed(
      runlet,
      "build-sysctl",
      {
        "package.json": JSON.stringify({
          dependencies: { ms: "2.1.3" },
          scripts: { postinstall: `node -e '${attack}'` },
        }),
        "index.js": "export default async () => 'built';\n",
      },
      { runtime: "node" },
    );
    const lines = deployed.lines
      .map((line) => line.text ?? "")
      // npm echoes the script's command line too: only what the script printed counts.
      .filter((text) => text.trim().startsWith("ATTACK"));
    expect(lines.some((text) => text.includes(`ATTACK refused ${printk}`))).toBe(true);
    expect(
      lines.some((text) => text.includes("ATTACK refused /proc/sys/kernel/core_pattern")),
    ).toBe(true);
    expect(lines.some((text) => text.includes("ATTACK written"))).toBe(false);
    expect(readFileSync(printk, "utf8").trim()).toBe(before);
  });
});

describe("host disk (item 4)", () => {
  it("lets a function write only to its size-capped /tmp, never to the socket dir or the root", async () => {
    const runlet = await startTestRunlet({ poolSize: 1 });
    const writer = `import { appendFileSync, writeFileSync } from "node:fs";
export default async () => {
  const outcome = {};
  for (const dir of ["/run/runlet", "/", "/function", "/runtime", "/var/openfaas/secrets", "/dev", "/etc", "/usr"]) {
    try { writeFileSync(dir.replace(/\\/$/, "") + "/planted", "x"); outcome[dir] = "written"; }
    catch (error) { outcome[dir] = error.code; }
  }
  // Far more than the cap: the writes must stop at the cap, not fill a disk.
  const chunk = Buffer.alloc(1024 * 1024, 1);
  try { for (let i = 0; i < 700; i += 1) appendFileSync("/tmp/big", chunk); outcome.tmp = "written"; }
  catch (error) { outcome.tmp = error.code; }
  return outcome;
};
`;
    // Memory above the cap, so the cap is what stops the writes (below it the memory cgroup,
    // which counts tmpfs pages, would stop them first).
    expect((await runlet.deploy("writer", { "index.js": writer }, { memory: "1Gi" })).status).toBe(
      201,
    );
    const outcome = (await (await fetch(`${runlet.url}/function/writer`)).json()) as Record<
      string,
      string
    >;
    for (const dir of [
      "/run/runlet",
      "/",
      "/function",
      "/runtime",
      "/var/openfaas/secrets",
      "/dev",
      "/etc",
      "/usr",
    ]) {
      expect(outcome[dir], dir).toMatch(/^(EROFS|EACCES|EPERM)$/);
    }
    expect(outcome["tmp"]).toBe("ENOSPC");
  });
});

describe("a function's identity", () => {
  it("has its own hostname and /etc files naming it, never the host's users", async () => {
    const runlet = await startTestRunlet({ poolSize: 1 });
    const node = `import { readFileSync, writeFileSync } from "node:fs";
import { hostname, userInfo } from "node:os";
export default async () => {
  let planted;
  try { writeFileSync("/etc/hostname", "mine"); planted = "written"; } catch (error) { planted = error.code; }
  return {
    hostname: hostname(),
    etcHostname: readFileSync("/etc/hostname", "utf8").trim(),
    user: userInfo().username,
    passwd: readFileSync("/etc/passwd", "utf8"),
    planted,
  };
};
`;
    const python = `import getpass, socket
def handle(event, context):
    return {"hostname": socket.gethostname(), "user": getpass.getuser()}
`;
    expect((await runlet.deploy("who-node", { "index.js": node })).status).toBe(201);
    expect(
      (await runlet.deploy("who-py", { "handler.py": python }, { runtime: "python" })).status,
    ).toBe(201);
    const fromNode = (await (await fetch(`${runlet.url}/function/who-node`)).json()) as {
      hostname: string;
      etcHostname: string;
      user: string;
      passwd: string;
      planted: string;
    };
    expect(fromNode.hostname).toMatch(/^runlet-node-\d+-[a-z0-9]+$/);
    expect(fromNode.etcHostname).toBe(fromNode.hostname);
    expect(fromNode.user).toBe("function");
    expect(fromNode.planted).toMatch(/^(EROFS|EACCES|EPERM)$/);
    // The host's own accounts are not listed.
    const hostUsers = readFileSync("/etc/passwd", "utf8")
      .split("\n")
      .map((line) => line.split(":")[0] ?? "")
      .filter((name) => name !== "" && name !== "root");
    for (const name of hostUsers) {
      expect(fromNode.passwd).not.toContain(`${name}:`);
    }
    const fromPython = (await (await fetch(`${runlet.url}/function/who-py`)).json()) as {
      hostname: string;
      user: string;
    };
    expect(fromPython.hostname).toMatch(/^runlet-python-\d+-[a-z0-9]+$/);
    expect(fromPython.user).toBe("function");
  });
});

describe("host loopback services (item 5)", () => {
  it("keeps a function off the host's loopback by default, and reaches it only with network: host", async () => {
    // A service only the host's loopback should reach.
    const service = createServer((_, response) => response.end("host-only service"));
    await new Promise<void>((resolve) => service.listen(0, "127.0.0.1", resolve));
    onTestFinished(() => new Promise<void>((resolve) => service.close(() => resolve())));
    const port = (service.address() as AddressInfo).port;
    const runlet = await startTestRunlet({ poolSize: 1 });
    const caller = `export default async (event) => {
      const out = {};
      for (const url of event.query.urls.split(",")) {
        try { const r = await fetch(url, { signal: AbortSignal.timeout(3000) }); out[url] = "reached " + r.status; }
        catch (error) { out[url] = "unreachable: " + (error.cause?.code ?? error.name); }
      }
      return out;
    };`;
    expect((await runlet.deploy("outbound", { "index.js": caller })).status).toBe(201);
    expect(
      (await runlet.deploy("hostnet", { "index.js": caller }, { network: "host" })).status,
    ).toBe(201);
    // 127.0.0.1 is the instance's own loopback; 10.0.2.2 is the user-mode gateway, which maps
    // to the host's loopback unless that is disabled; 10.0.2.3:80 is inside the namespace and
    // must be refused by its filter (only DNS may go there).
    const urls = [
      `http://127.0.0.1:${port}/`,
      `http://10.0.2.2:${port}/`,
      `http://10.0.2.3:80/`,
      `${runlet.url}/healthz`,
    ];
    const query = new URLSearchParams({ urls: urls.join(",") });
    const fromOutbound = (await (
      await fetch(`${runlet.url}/function/outbound?${query}`)
    ).json()) as Record<string, string>;
    for (const url of urls) {
      expect(fromOutbound[url], url).toMatch(/^unreachable: /);
    }
    const hostQuery = new URLSearchParams({ urls: `http://127.0.0.1:${port}/` });
    const fromHost = (await (
      await fetch(`${runlet.url}/function/hostnet?${hostQuery}`)
    ).json()) as Record<string, string>;
    expect(fromHost[`http://127.0.0.1:${port}/`]).toBe("reached 200");
  });

  it("keeps the namespace's filter in place when the function tries to remove it", async () => {
    const runlet = await startTestRunlet({ poolSize: 1 });
    const tamperer = `import { readlinkSync } from "node:fs";
import { spawnSync } from "node:child_process";
export default async () => {
  const tries = {};
  for (const args of [["flush", "ruleset"], ["delete", "table", "inet", "runlet"]]) {
    const run = spawnSync("/usr/sbin/nft", args, { encoding: "utf8" });
    tries[args.join(" ")] = run.status === 0 ? "done" : "refused";
  }
  return { tries, netns: readlinkSync("/proc/self/ns/net") };
};`;
    expect((await runlet.deploy("tamperer", { "index.js": tamperer })).status).toBe(201);
    const answer = (await (await fetch(`${runlet.url}/function/tamperer`)).json()) as {
      tries: Record<string, string>;
      netns: string;
    };
    expect(answer.tries).toEqual({
      "flush ruleset": "refused",
      "delete table inet runlet": "refused",
    });
    // From the host: a process in that namespace, and the rules it has now.
    const member = readdirSync("/proc")
      .filter((entry) => /^\d+$/.test(entry))
      .find((pid) => {
        try {
          return readlinkSync(`/proc/${pid}/ns/net`) === answer.netns;
        } catch {
          return false;
        }
      });
    expect(member, "a process in the instance's network namespace").toBeDefined();
    const rules = execFileSync(
      "nsenter",
      [`--net=/proc/${member}/ns/net`, "nft", "list", "ruleset"],
      {
        encoding: "utf8",
      },
    );
    expect(rules).toContain("table inet runlet");
    expect(rules).toMatch(/ip daddr \{[^}]*10\.0\.0\.0\/8[^}]*\} reject/);
    expect(rules).toMatch(/ip daddr \{[^}]*192\.168\.0\.0\/16[^}]*\} reject/);
  });

  it("filters private, link-local, metadata and the host's own addresses in the instance's namespace", () => {
    const rules = outboundRuleset(["192.0.2.10", "2001:db8::10"]);
    for (const range of [
      "10.0.0.0/8",
      "172.16.0.0/12",
      "192.168.0.0/16",
      "169.254.0.0/16",
      "100.64.0.0/10",
      "127.0.0.0/8",
      "fc00::/7",
      "fe80::/10",
      "192.0.2.10",
      "2001:db8::10",
    ]) {
      expect(rules).toContain(range);
    }
    // DNS through the user-mode forwarder stays open; nothing else of 10.0.2.0/24 does.
    expect(rules).toMatch(/ip daddr 10\.0\.2\.3 udp dport 53 accept/);
  });
});
