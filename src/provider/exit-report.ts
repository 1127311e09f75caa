/**
 * After a call failed on an instance: its exit when that was the cause. A transport closes a
 * moment before the exit is reported, so the answer waits up to `ms` for it.
 */
import type { ExitInfo } from "./types.js";

export async function exitWithin(
  instance: { readonly exitInfo: ExitInfo | undefined; readonly exited: Promise<ExitInfo> },
  ms: number,
): Promise<ExitInfo | undefined> {
  if (instance.exitInfo) {
    return instance.exitInfo;
  }
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([instance.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}
