// A Runlet function in TypeScript, compiled with esbuild when you deploy.
// `event` has method, path, query, headers and body (parsed JSON for application/json);
// `context` has callId, functionName, deadline and signal.
// Return a value (sent as JSON or text), or { statusCode, headers, body }.
export interface Event {
  method: string;
  path: string;
  query: Record<string, string | undefined>;
  headers: Record<string, string | undefined>;
  body?: unknown;
}

export interface Context {
  callId: string;
  functionName?: string;
  signal?: AbortSignal;
}

export default async function handle(event: Event, context: Context) {
  const fromBody = (event.body as { name?: string } | undefined)?.name;
  const name = event.query.name ?? fromBody ?? "world";
  console.log(`greeting ${name} (call ${context.callId})`);
  return { message: `Hello, ${name}!` };
}
