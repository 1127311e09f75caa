/** Messages a runtime server writes on its control pipe (fd 3), validated before use. */
import { z } from "zod";

export const controlMessageSchema = z.discriminatedUnion("event", [
  z.object({ event: z.literal("ready"), pid: z.number() }),
  z.object({
    event: z.literal("log"),
    stream: z.enum(["stdout", "stderr"]),
    callId: z.string().optional(),
    text: z.string(),
  }),
]);
export type ControlMessage = z.infer<typeof controlMessageSchema>;

/** Parses one line; unknown or malformed lines yield undefined (the instance is not trusted). */
export function parseControlMessage(line: string): ControlMessage | undefined {
  try {
    const parsed = controlMessageSchema.safeParse(JSON.parse(line));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
