/** The data directory: the database, packages, and the two secrets the platform keeps (0600). */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface DataDir {
  readonly root: string;
  readonly databasePath: string;
  readonly packagesDir: string;
  readonly adminToken: string;
  /** True when this start created the token (so `up` prints it once). */
  readonly adminTokenCreated: boolean;
  readonly secretsKey: Buffer;
  /** What this start found wrong with the directory and fixed, for `up` to show. */
  readonly notices: readonly string[];
}

export async function openDataDir(
  root: string,
  presetToken?: string,
  presetSecretsKey?: Buffer,
): Promise<DataDir> {
  await mkdir(root, { recursive: true, mode: 0o700 });
  const notices: string[] = [];
  // A directory made before (or by someone else) may let other users read the database and
  // its -wal file, which hold call data (issue 13): it is made private again.
  const mode = (await stat(root)).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    await chmod(root, 0o700);
    notices.push(
      `the data dir ${root} was readable by other users (mode 0${mode.toString(8)}); it is now 0700`,
    );
  }
  const packagesDir = join(root, "packages");
  await mkdir(packagesDir, { recursive: true });
  const tokenFile = join(root, "admin-token");
  let adminToken: string;
  let adminTokenCreated = false;
  if (presetToken) {
    adminToken = presetToken;
    await writePrivate(tokenFile, `${adminToken}\n`);
  } else if (existsSync(tokenFile)) {
    adminToken = (await readFile(tokenFile, "utf8")).trim();
  } else {
    adminToken = randomBytes(24).toString("base64url");
    adminTokenCreated = true;
    await writePrivate(tokenFile, `${adminToken}\n`);
  }
  const keyFile = join(root, "secrets.key");
  let secretsKey: Buffer;
  if (presetSecretsKey) {
    // Kept where it came from (a Secret every replica mounts), never copied here.
    secretsKey = presetSecretsKey;
  } else if (existsSync(keyFile)) {
    secretsKey = Buffer.from((await readFile(keyFile, "utf8")).trim(), "base64");
  } else {
    secretsKey = randomBytes(32);
    await writePrivate(keyFile, `${secretsKey.toString("base64")}\n`);
  }
  return {
    root,
    databasePath: join(root, "runlet.db"),
    packagesDir,
    adminToken,
    adminTokenCreated,
    secretsKey,
    notices,
  };
}

async function writePrivate(path: string, content: string): Promise<void> {
  await writeFile(path, content, { mode: 0o600 });
  await chmod(path, 0o600);
}
