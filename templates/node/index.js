// A Runlet function. `event` has method, path, query, headers and body (parsed JSON for
// application/json); `context` has callId, functionName, deadline and signal.
// Return a value (sent as JSON or text), or { statusCode, headers, body }.
export default async function handle(event, context) {
  const name = event.query.name ?? event.body?.name ?? "world";
  console.log(`greeting ${name} (call ${context.callId})`);
  return { message: `Hello, ${name}!` };
}
