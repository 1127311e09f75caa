/**
 * Go functions of the peers' templates (issue 17), written as `faas-cli new --lang
 * golang-http|golang-middleware|go`, Fission's Go environment and Kubeless' Go runtime write
 * them, deployed unchanged: the build adds the main package the template supplies.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { adminToken, sharedBuildCache, startTestRunlet, tempDir } from "../helpers/runlet.js";

async function writeFiles(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  }
}

const golangHttp = `package function

import (
	"fmt"
	"net/http"

	handler "github.com/openfaas/templates-sdk/go-http"
)

// Handle a function invocation
func Handle(req handler.Request) (handler.Response, error) {
	var err error

	message := fmt.Sprintf("Body: %s, method: %s, query: %s", string(req.Body), req.Method, req.QueryString)

	return handler.Response{
		Body:       []byte(message),
		StatusCode: http.StatusCreated,
		Header:     http.Header{"X-Served-By": []string{"golang-http"}},
	}, err
}
`;

// The template's go.mod names the SDK at a version the module proxy here cannot serve.
const golangHttpMod = `module handler/function

go 1.21

require github.com/openfaas/templates-sdk/go-http v0.0.0-20220408082716-5981c545cb03
`;

const golangMiddleware = `package function

import (
	"fmt"
	"io"
	"net/http"
)

func Handle(w http.ResponseWriter, r *http.Request) {
	var input []byte

	if r.Body != nil {
		defer r.Body.Close()

		body, _ := io.ReadAll(r.Body)

		input = body
	}

	w.WriteHeader(http.StatusOK)
	w.Write([]byte(fmt.Sprintf("Body: %s", string(input))))
}
`;

const goClassic = `package function

import (
	"fmt"
)

// Handle a serverless request
func Handle(req []byte) string {
	return fmt.Sprintf("Hello, Go. You said: %s", string(req))
}
`;

const stack = `version: 1.0
provider:
  name: openfaas
  gateway: http://127.0.0.1:8080
functions:
  go-http:
    lang: golang-http
    handler: ./go-http
    image: go-http:latest
  go-mw:
    lang: golang-middleware
    handler: ./go-mw
    image: go-mw:latest
  go-classic:
    lang: go
    handler: ./go-classic
    image: go-classic:latest
`;

// Fission's Go environment example (a plugin there): package main, an exported Handler.
const fissionGo = `package main

import (
	"net/http"
)

// Handler is the entry point for this fission function
func Handler(w http.ResponseWriter, r *http.Request) {
	msg := "Hello, world!\\n"
	w.Write([]byte(msg))
}
`;

const kubelessGo = `package kubeless

import (
	"github.com/kubeless/kubeless/pkg/functions"
)

// Foo sample function
func Foo(event functions.Event, context functions.Context) (string, error) {
	return "Hello " + event.Data + " from " + context.Runtime, nil
}
`;

describe("Go functions of the peers' templates", () => {
  it("deploys OpenFaaS golang-http, golang-middleware and go, Fission and Kubeless Go as written", async () => {
    const runlet = await startTestRunlet({ buildCacheDir: sharedBuildCache() });
    const cwd = await tempDir("runlet-go-templates-");
    const env = { RUNLET_GATEWAY: runlet.url, RUNLET_TOKEN: adminToken };
    await writeFiles(cwd, {
      "stack.yml": stack,
      "go-http/handler.go": golangHttp,
      "go-http/go.mod": golangHttpMod,
      "go-mw/handler.go": golangMiddleware,
      "go-classic/handler.go": goClassic,
      "fission-go/hello.go": fissionGo,
      "kubeless-go/foo.go": kubelessGo,
    });
    const cli = (argv: string[]) => runCli(argv, { cwd, env });
    const deployed = await cli(["deploy", "-f", "stack.yml"]);
    expect({ code: deployed.code, stderr: deployed.stderr }).toMatchObject({ code: 0 });

    const created = await fetch(`${runlet.url}/function/go-http?x=1`, {
      method: "POST",
      body: "hi",
    });
    expect(created.status).toBe(201);
    expect(created.headers.get("x-served-by")).toBe("golang-http");
    expect(await created.text()).toBe("Body: hi, method: POST, query: x=1");
    const mw = await fetch(`${runlet.url}/function/go-mw`, { method: "POST", body: "mw" });
    expect(await mw.text()).toBe("Body: mw");
    const classic = await fetch(`${runlet.url}/function/go-classic`, {
      method: "POST",
      body: "yo",
    });
    expect(await classic.text()).toBe("Hello, Go. You said: yo");

    const fission = await cli([
      "deploy",
      "fission-go",
      "--runtime",
      "go",
      "--compat",
      "fission",
      "--handler",
      "Handler",
    ]);
    expect({ code: fission.code, stderr: fission.stderr }).toMatchObject({ code: 0 });
    expect(await (await fetch(`${runlet.url}/function/fission-go`)).text()).toBe("Hello, world!\n");
    const kubeless = await cli([
      "deploy",
      "kubeless-go",
      "--runtime",
      "go",
      "--compat",
      "kubeless",
      "--handler",
      "Foo",
    ]);
    expect({ code: kubeless.code, stderr: kubeless.stderr }).toMatchObject({ code: 0 });
    const answer = await fetch(`${runlet.url}/function/kubeless-go`, {
      method: "POST",
      body: "Ada",
    });
    expect(answer.headers.get("access-control-allow-origin")).toBe("*");
    expect(await answer.text()).toBe("Hello Ada from go");

    // Code that is no template's: the deploy says which shapes there are.
    await writeFiles(cwd, { "not-a-template/main.go": "package main\n\nfunc main() {}\n" });
    const wrong = await cli([
      "deploy",
      "not-a-template",
      "--runtime",
      "go",
      "--compat",
      "openfaas",
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("no Handle function of an OpenFaaS Go template");
    // Five Go builds; on a machine's first run the standard library is compiled into the cache.
  }, 400_000);
});
