// Loaded by the runtime server while it warms up in the pool, so the first real load and
// call do not pay for code paths that run for the first time (module loader, HTTP parsing).
export default async function warmup(event) {
  return {
    statusCode: 200,
    headers: { "x-warmup": "1" },
    body: { path: event.path, body: event.body },
  };
}
