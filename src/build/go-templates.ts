/**
 * Go functions written for another platform's template, built as they are: the build adds
 * the `main` package the template would have supplied, and the template's SDK packages as
 * local modules (the originals are not fetched; these are written from their documented API).
 *
 * - OpenFaaS `golang-middleware`: package function, `func Handle(w http.ResponseWriter, r *http.Request)`.
 * - OpenFaaS `golang-http`: package function, `func Handle(req handler.Request) (handler.Response, error)`
 *   with `handler "github.com/openfaas/templates-sdk/go-http"`.
 * - OpenFaaS classic `go`: package function, `func Handle(req []byte) string`.
 * - Fission's Go environment: package main with `func Handler(w http.ResponseWriter, r *http.Request)`
 *   (a plugin there; the named function is served here).
 * - Kubeless Go: `func Handler(event functions.Event, context functions.Context) (string, error)`
 *   with `"github.com/kubeless/kubeless/pkg/functions"`.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { UserError } from "../errors.js";
import type { CompatShape } from "../spec/function-spec.js";

export type GoTemplate =
  "golang-middleware" | "golang-http" | "go-classic" | "fission" | "kubeless";

/** Where the generated main module lives inside the build's output tree. */
export const wrapperDir = ".runlet/go-main";

const openfaasSdk = "github.com/openfaas/templates-sdk/go-http";
const kubelessSdk = "github.com/kubeless/kubeless";

interface GoSource {
  readonly packageName: string;
  readonly text: string;
}

async function readGoSources(root: string): Promise<GoSource[]> {
  const sources: GoSource[] = [];
  for (const name of (await readdir(root)).sort()) {
    if (!name.endsWith(".go") || name.endsWith("_test.go")) {
      continue;
    }
    const text = await readFile(join(root, name), "utf8");
    const packageName = /^\s*package\s+(\w+)/m.exec(text)?.[1];
    if (packageName !== undefined) {
      sources.push({ packageName, text });
    }
  }
  return sources;
}

/** Which template a function's code is written for, from its package and Handle's signature. */
export function detectTemplate(
  compat: CompatShape,
  sources: readonly GoSource[],
  wanted?: string,
): { template: GoTemplate; packageName: string; entry: string } | string {
  const all = sources.map((source) => source.text).join("\n");
  const packageName = sources[0]?.packageName ?? "";
  if (compat === "openfaas" || compat === "openfaas-classic") {
    if (
      all.includes(`"${openfaasSdk}"`) &&
      /func\s+Handle\s*\(\s*\w+\s+handler\.Request\s*\)/.test(all)
    ) {
      return { template: "golang-http", packageName, entry: "Handle" };
    }
    if (
      /func\s+Handle\s*\(\s*\w+\s+http\.ResponseWriter\s*,\s*\w+\s+\*http\.Request\s*\)/.test(all)
    ) {
      return { template: "golang-middleware", packageName, entry: "Handle" };
    }
    if (/func\s+Handle\s*\(\s*\w+\s+\[\]byte\s*\)\s*string/.test(all)) {
      return { template: "go-classic", packageName, entry: "Handle" };
    }
    return "no Handle function of an OpenFaaS Go template: golang-middleware's Handle(w http.ResponseWriter, r *http.Request), golang-http's Handle(req handler.Request) (handler.Response, error), or the classic go template's Handle(req []byte) string";
  }
  if (compat === "fission") {
    const named = [
      ...all.matchAll(
        /func\s+([A-Z]\w*)\s*\(\s*\w+\s+http\.ResponseWriter\s*,\s*\w+\s+\*http\.Request\s*\)/g,
      ),
    ].map((m) => m[1] ?? "");
    const entry =
      wanted !== undefined && named.includes(wanted)
        ? wanted
        : named.includes("Handler")
          ? "Handler"
          : named[0];
    if (entry === undefined || packageName !== "main") {
      return "no Fission Go handler: package main with an exported func Handler(w http.ResponseWriter, r *http.Request)";
    }
    return { template: "fission", packageName, entry };
  }
  const named = [
    ...all.matchAll(
      /func\s+([A-Z]\w*)\s*\(\s*\w+\s+functions\.Event\s*,\s*\w+\s+functions\.Context\s*\)/g,
    ),
  ].map((m) => m[1] ?? "");
  const entry = wanted !== undefined && named.includes(wanted) ? wanted : named[0];
  if (entry === undefined) {
    return 'no Kubeless Go handler: func Handler(event functions.Event, context functions.Context) (string, error) importing "github.com/kubeless/kubeless/pkg/functions"';
  }
  return { template: "kubeless", packageName, entry };
}

/**
 * Writes the main package (and SDK modules) for a Go function of another platform's
 * template; returns the directory `go build` runs in, relative to the output tree.
 */
export async function prepareGoTemplate(
  outDir: string,
  compat: CompatShape,
  handler: string,
): Promise<string> {
  const sources = await readGoSources(outDir);
  // A Fission or Kubeless entrypoint names the function ("Handler"); a file name names none.
  const entry = /^[A-Z]\w*$/.test(handler) ? handler : undefined;
  const found = detectTemplate(compat, sources, entry);
  if (typeof found === "string") {
    throw new UserError("RUNLET_HANDLER_NOT_FOUND", `The Go function has ${found}.`);
  }
  if (found.template === "fission") {
    // The user's package is main already: the generated file joins it.
    await writeFile(join(outDir, "zz_runlet_main.go"), fissionMain(found.entry));
    if (!existsSync(join(outDir, "go.mod"))) {
      await writeFile(join(outDir, "go.mod"), "module function\n\ngo 1.21\n");
    }
    return ".";
  }
  const modulePath = await ensureModule(
    outDir,
    found.template === "kubeless" ? "kubeless" : "handler/function",
  );
  const main = join(outDir, wrapperDir);
  await mkdir(main, { recursive: true });
  const requires = [`\t${modulePath} v0.0.0`];
  const replaces = [`replace ${modulePath} => ../..`];
  if (found.template === "golang-http") {
    await writeModule(join(main, "sdk/openfaas"), openfaasSdk, { "handler.go": openfaasSdkSource });
    requires.push(`\t${openfaasSdk} v0.0.0`);
    replaces.push(`replace ${openfaasSdk} => ./sdk/openfaas`);
  }
  if (found.template === "kubeless") {
    await writeModule(join(main, "sdk/kubeless"), kubelessSdk, {
      "pkg/functions/functions.go": kubelessSdkSource,
    });
    requires.push(`\t${kubelessSdk} v0.0.0`);
    replaces.push(`replace ${kubelessSdk} => ./sdk/kubeless`);
  }
  // The user's own go.mod may require the SDK at a version: the replace wins in this main module.
  await writeFile(
    join(main, "go.mod"),
    `module runlet.local/go-main\n\ngo 1.21\n\nrequire (\n${requires.join("\n")}\n)\n\n${replaces.join("\n")}\n`,
  );
  await writeFile(join(main, "main.go"), wrapperMain(found.template, modulePath, found.entry));
  return wrapperDir;
}

async function ensureModule(outDir: string, fallback: string): Promise<string> {
  const goMod = join(outDir, "go.mod");
  if (existsSync(goMod)) {
    const named = /^\s*module\s+(\S+)/m.exec(await readFile(goMod, "utf8"))?.[1];
    if (named !== undefined) {
      return named.replace(/^"|"$/g, "");
    }
  }
  await writeFile(goMod, `module ${fallback}\n\ngo 1.21\n`);
  return fallback;
}

async function writeModule(
  dir: string,
  path: string,
  files: Record<string, string>,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "go.mod"), `module ${path}\n\ngo 1.21\n`);
  for (const [name, text] of Object.entries(files)) {
    await mkdir(join(dir, name, ".."), { recursive: true });
    await writeFile(join(dir, name), text);
  }
}

const listen = `	addr := "127.0.0.1:" + os.Getenv("PORT")
	if err := http.ListenAndServe(addr, nil); err != nil {
		log.Fatal(err)
	}`;

function fissionMain(entry: string): string {
  return `// Generated at build: serves the Fission Go handler as the environment's plugin loader would.
package main

import (
	"log"
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/", ${entry})
${listen}
}
`;
}

function wrapperMain(template: GoTemplate, modulePath: string, entry: string): string {
  const fn = `fn "${modulePath}"`;
  switch (template) {
    case "golang-middleware":
      return `// Generated at build: the OpenFaaS golang-middleware template's server.
package main

import (
	"log"
	"net/http"
	"os"

	${fn}
)

func main() {
	http.HandleFunc("/", fn.${entry})
${listen}
}
`;
    case "golang-http":
      return `// Generated at build: the OpenFaaS golang-http template's server.
package main

import (
	"io"
	"log"
	"net/http"
	"os"

	${fn}
	handler "${openfaasSdk}"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		var body []byte
		if r.Body != nil {
			body, _ = io.ReadAll(r.Body)
		}
		req := handler.Request{
			Body:        body,
			Header:      r.Header,
			QueryString: r.URL.RawQuery,
			Method:      r.Method,
			Host:        r.Host,
		}
		req = req.WithContext(r.Context())
		res, err := fn.${entry}(req)
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(err.Error()))
			return
		}
		for name, values := range res.Header {
			for _, value := range values {
				w.Header().Add(name, value)
			}
		}
		status := res.StatusCode
		if status == 0 {
			status = http.StatusOK
		}
		w.WriteHeader(status)
		_, _ = w.Write(res.Body)
	})
${listen}
}
`;
    case "go-classic":
      return `// Generated at build: the OpenFaaS classic go template, one call per request.
package main

import (
	"io"
	"log"
	"net/http"
	"os"

	${fn}
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, fn.${entry}(body))
	})
${listen}
}
`;
    case "kubeless":
      return `// Generated at build: the Kubeless Go runtime's server.
package main

import (
	"context"
	"io"
	"log"
	"net/http"
	"os"

	${fn}
	"${kubelessSdk}/pkg/functions"
)

func main() {
	timeout := os.Getenv("FUNC_TIMEOUT")
	if timeout == "" {
		timeout = "180"
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		event := functions.Event{
			Data:           string(body),
			EventID:        r.Header.Get("event-id"),
			EventType:      r.Header.Get("event-type"),
			EventTime:      r.Header.Get("event-time"),
			EventNamespace: r.Header.Get("event-namespace"),
			Extensions:     functions.Extension{Request: r, Response: w, Context: context.Background()},
		}
		ctx := functions.Context{
			FunctionName: os.Getenv("FUNC_HANDLER"),
			Timeout:      timeout,
			Runtime:      "go",
			MemoryLimit:  os.Getenv("FUNC_MEMORY_LIMIT"),
		}
		w.Header().Set("Access-Control-Allow-Origin", "*")
		result, err := fn.${entry}(event, ctx)
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, err.Error())
			return
		}
		_, _ = io.WriteString(w, result)
	})
${listen}
}
`;
    case "fission":
      return fissionMain(entry);
  }
}

const openfaasSdkSource = `// Package handler: the request and response types of OpenFaaS's golang-http template, as its
// documentation describes them.
package handler

import (
	"context"
	"net/http"
)

// Request is one call: its body, headers, raw query string, method and host.
type Request struct {
	Body        []byte
	Header      http.Header
	QueryString string
	Method      string
	Host        string
	ctx         context.Context
}

// Context is the call's context, cancelled when the caller goes away.
func (r Request) Context() context.Context {
	if r.ctx == nil {
		return context.Background()
	}
	return r.ctx
}

// WithContext returns a copy of the request with the given context.
func (r Request) WithContext(ctx context.Context) Request {
	r.ctx = ctx
	return r
}

// Response is the answer: body, status (0 means 200) and headers.
type Response struct {
	Body       []byte
	StatusCode int
	Header     http.Header
}

// FunctionHandler is implemented by a type whose Handle answers calls.
type FunctionHandler interface {
	Handle(req Request) (Response, error)
}
`;

const kubelessSdkSource = `// Package functions: the event and context types of Kubeless' Go runtime, as its documentation
// describes them.
package functions

import (
	"context"
	"net/http"
)

// Extension carries the HTTP request and response of the call.
type Extension struct {
	Request  *http.Request
	Response http.ResponseWriter
	Context  context.Context
}

// Event is one call: its data (the request body) and the event metadata from its headers.
type Event struct {
	Data           string
	EventID        string
	EventType      string
	EventTime      string
	EventNamespace string
	Extensions     Extension
}

// Context describes the function.
type Context struct {
	FunctionName string
	Timeout      string
	Runtime      string
	MemoryLimit  string
}
`;
