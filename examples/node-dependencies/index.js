// A Node function with a dependency from npm: `runlet deploy` installs package.json's
// dependencies (npm ci, production only) on the server, so node_modules need not be uploaded.
import ms from "ms";

const started = Date.now();

export default async function handle(event) {
  const timeout = event.query.timeout ?? "1m";
  return { uptime: ms(Date.now() - started), timeoutMs: ms(timeout) };
}
