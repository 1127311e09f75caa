/**
 * The dashboard at /ui (issue 20): the prebuilt files `npm run build` writes to dist/ui
 * (scripts/build-ui.mjs), served as they are. The files themselves hold no data and are
 * public; everything they show comes from /api/v1 with the token the user logs in with.
 *
 * The page shares its origin with every function (/function/…), so it is locked down: a
 * policy that runs only its own script and styles and connects only to this origin, no
 * framing, no referrer, no sniffing. Functions' output is rendered as text by the page itself.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, gzipSync } from "node:zlib";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { UserError } from "../../errors.js";

/** dist/ui, from src/gateway/routes (tests) and dist/gateway/routes (the built CLI) alike. */
const defaultRoot = fileURLToPath(new URL("../../../dist/ui/", import.meta.url));

const contentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const securityHeaders = {
  "content-security-policy": contentSecurityPolicy,
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
} as const;

const contentTypes: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};

interface Asset {
  readonly type: string;
  readonly raw: Buffer;
  readonly gzip: Buffer;
  readonly brotli: Buffer;
}

/** Whether a request path is the dashboard's (public: the files hold no data). */
export function isDashboardPath(path: string): boolean {
  return path === "/ui" || path.startsWith("/ui/");
}

function loadAsset(path: string): Asset {
  const raw = readFileSync(path);
  const extension = path.slice(path.lastIndexOf("."));
  return {
    type: contentTypes[extension] ?? "application/octet-stream",
    raw,
    gzip: gzipSync(raw, { level: 9 }),
    brotli: brotliCompressSync(raw),
  };
}

/** The built files, read and compressed once; undefined when the dashboard was not built. */
function loadAssets(root: string): Map<string, Asset> | undefined {
  let names: string[];
  try {
    names = readdirSync(join(root, "assets"));
  } catch {
    return undefined;
  }
  const assets = new Map<string, Asset>();
  assets.set("index.html", loadAsset(join(root, "index.html")));
  for (const name of names) {
    assets.set(`assets/${name}`, loadAsset(join(root, "assets", name)));
  }
  return assets;
}

function send(request: FastifyRequest, reply: FastifyReply, asset: Asset, immutable: boolean) {
  const accepted = String(request.headers["accept-encoding"] ?? "");
  const [encoding, body] = /\bbr\b/.test(accepted)
    ? ["br", asset.brotli]
    : /\bgzip\b/.test(accepted)
      ? ["gzip", asset.gzip]
      : [undefined, asset.raw];
  reply.headers(securityHeaders);
  reply.header("content-type", asset.type);
  reply.header("vary", "accept-encoding");
  // Assets are named by their content's hash; the page itself is checked each time.
  reply.header("cache-control", immutable ? "public, max-age=31536000, immutable" : "no-cache");
  if (encoding) {
    reply.header("content-encoding", encoding);
  }
  return reply.send(body);
}

export function registerDashboardRoutes(app: FastifyInstance, root = defaultRoot): void {
  const assets = loadAssets(root);
  const notBuilt = (): never => {
    throw new UserError(
      "RUNLET_NOT_FOUND",
      "The dashboard is not built in this installation; build it with: npm run build",
    );
  };
  app.get("/ui", async (_request, reply) => reply.redirect("/ui/", 302));
  app.get("/ui/", async (request, reply) => {
    const index = assets?.get("index.html") ?? notBuilt();
    return send(request, reply, index, false);
  });
  app.get<{ Params: { file: string } }>("/ui/assets/:file", async (request, reply) => {
    const asset = assets?.get(`assets/${request.params.file}`);
    if (!asset) {
      throw new UserError("RUNLET_NOT_FOUND", `The dashboard has no file ${request.params.file}.`);
    }
    return send(request, reply, asset, true);
  });
}
