/**
 * Java functions of the peers' templates (issue 19), as `faas-cli new --lang java11|java17`
 * and Kubeless' Java runtime write them, deployed unchanged from a stack file or with the
 * platform's handler name. The OpenFaaS templates build with Gradle; where Gradle is not
 * installed the build reads build.gradle's dependencies and builds the same layout with Maven.
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

// The java11 template's function folder: its build.gradle names two libraries it does not use.
const java11Gradle = `plugins {
    id 'java-library'
    id 'distribution'
}

dependencies {
    api 'org.apache.commons:commons-math3:3.6.1'
    implementation 'com.google.guava:guava:23.0'
    testImplementation 'junit:junit:4.12'
    compile 'com.openfaas:model:0.1.1'
    compile 'com.openfaas:entrypoint:1.0.0'
}

repositories {
    jcenter()
    flatDir {
        dirs '../libs'
    }
}
`;

const java11Handler = `package com.openfaas.function;

import com.openfaas.model.IHandler;
import com.openfaas.model.IResponse;
import com.openfaas.model.IRequest;
import com.openfaas.model.Response;

public class Handler implements com.openfaas.model.IHandler {

    public IResponse Handle(IRequest req) {
        Response res = new Response();
        res.setBody("Hello, world!");
        return res;
    }
}
`;

// The template's test: JUnit, which the build leaves out (it compiles src/main only).
const java11Test = `package com.openfaas.function;

import org.junit.Test;
import static org.junit.Assert.*;

public class HandlerTest {
    @Test public void handlerIsNotNull() {
        assertNotNull(new Handler());
    }
}
`;

// java17 finds its handler with a ServiceLoader: the class extends AbstractHandler.
const java17Gradle = `plugins {
    id 'java-library'
    id 'distribution'
    id 'maven-publish'
}

dependencies {
    testImplementation 'junit:junit:4.12'
    implementation 'com.openfaas:model:0.1.1'
    implementation 'com.openfaas:entrypoint:0.1.0'
}

repositories {
    mavenCentral()
}
`;

const java17Handler = `package com.openfaas.function;

import com.openfaas.model.IRequest;
import com.openfaas.model.IResponse;
import com.openfaas.model.Response;

public class Handler extends com.openfaas.model.AbstractHandler {

    public IResponse Handle(IRequest req) {
        Response res = new Response();
        res.setBody("Hello, world!");
        return res;
    }
}
`;

// What a handler reads of the request and sets on the answer, as the templates' model has it.
const echoHandler = `package com.openfaas.function;

import com.openfaas.model.*;

public class Handler extends AbstractHandler {
    public IResponse Handle(IRequest req) {
        Response res = new Response();
        res.setStatusCode(201);
        res.setContentType("application/json");
        res.setHeader("X-Path-User", req.getPath().get("user"));
        res.setBody("{\\"body\\":\\"" + req.getBody() + "\\",\\"q\\":\\"" + req.getQuery().get("q")
            + "\\",\\"raw\\":\\"" + req.getQueryRaw() + "\\",\\"agent\\":\\"" + req.getHeader("X-Agent")
            + "\\",\\"path\\":\\"" + req.getPathRaw() + "\\"}");
        return res;
    }
}
`;

const stack = `version: 1.0
provider:
  name: openfaas
  gateway: http://127.0.0.1:8080
functions:
  hello-java11:
    lang: java11
    handler: ./hello-java11
    image: hello-java11:latest
  hello-java17:
    lang: java17
    handler: ./hello-java17
    image: hello-java17:latest
  echo-java17:
    lang: java17
    handler: ./echo-java17
    image: echo-java17:latest
`;

// Kubeless' Java example: package io.kubeless, String method(Event, Context), handler Foo.foo.
const kubelessFoo = `package io.kubeless;

import io.kubeless.Event;
import io.kubeless.Context;

public class Foo {
    public String foo(io.kubeless.Event event, io.kubeless.Context context) {
        return "Hello world!";
    }
}
`;

const kubelessEcho = `package io.kubeless;

import io.kubeless.Event;
import io.kubeless.Context;

public class Echo {
    public String echo(io.kubeless.Event event, io.kubeless.Context context) {
        return event.Data + " from " + context.FunctionName + " (" + context.Runtime + ", " + context.Timeout + "s)";
    }
}
`;

const kubelessResource = `apiVersion: kubeless.io/v1beta1
kind: Function
metadata:
  name: echo-java
spec:
  runtime: java11
  handler: Echo.echo
  timeout: "30"
  function-content-type: text
  function: |
${kubelessEcho
  .split("\n")
  .map((line) => `    ${line}`)
  .join("\n")}
`;

describe("Java functions of the peers' templates", () => {
  it("deploys OpenFaaS java11 and java17 from a stack file and Kubeless Java as written", async () => {
    const runlet = await startTestRunlet({ buildCacheDir: sharedBuildCache() });
    const cwd = await tempDir("runlet-java-templates-");
    const env = { RUNLET_GATEWAY: runlet.url, RUNLET_TOKEN: adminToken };
    await writeFiles(cwd, {
      "stack.yml": stack,
      "hello-java11/build.gradle": java11Gradle,
      "hello-java11/src/main/java/com/openfaas/function/Handler.java": java11Handler,
      "hello-java11/src/test/java/com/openfaas/function/HandlerTest.java": java11Test,
      "hello-java17/build.gradle": java17Gradle,
      "hello-java17/src/main/java/com/openfaas/function/Handler.java": java17Handler,
      "hello-java17/src/main/resources/META-INF/services/com.openfaas.model.AbstractHandler":
        "com.openfaas.function.Handler\n",
      "echo-java17/build.gradle": java17Gradle,
      "echo-java17/src/main/java/com/openfaas/function/Handler.java": echoHandler,
      "get-java/Foo.java": kubelessFoo,
      "echo-java.yaml": kubelessResource,
    });
    const cli = (argv: string[]) => runCli(argv, { cwd, env });
    const deployed = await cli(["deploy", "-f", "stack.yml"]);
    expect({ code: deployed.code, stderr: deployed.stderr }).toMatchObject({ code: 0 });
    // The build says what it did with build.gradle.
    expect(deployed.stdout + deployed.stderr).toContain("Gradle is not installed");

    for (const name of ["hello-java11", "hello-java17"]) {
      const answer = await fetch(`${runlet.url}/function/${name}`);
      expect({ name, status: answer.status }).toEqual({ name, status: 200 });
      expect(answer.headers.get("content-type")).toBe("text/plain; charset=utf-8");
      expect(await answer.text()).toBe("Hello, world!");
    }
    const echo = await fetch(`${runlet.url}/function/echo-java17/user/ada?q=a%20b&n=1`, {
      method: "POST",
      headers: { "x-agent": "test" },
      body: "hi",
    });
    expect(echo.status).toBe(201);
    expect(echo.headers.get("content-type")).toBe("application/json");
    expect(echo.headers.get("x-path-user")).toBe("ada");
    expect(await echo.json()).toEqual({
      body: "hi",
      q: "a b",
      raw: "q=a%20b&n=1",
      agent: "test",
      path: "/user/ada",
    });

    const kubeless = await cli([
      "deploy",
      "get-java",
      "--runtime",
      "java",
      "--compat",
      "kubeless",
      "--handler",
      "Foo.foo",
    ]);
    expect({ code: kubeless.code, stderr: kubeless.stderr }).toMatchObject({ code: 0 });
    const hello = await fetch(`${runlet.url}/function/get-java`);
    expect(hello.status).toBe(200);
    expect(await hello.text()).toBe("Hello world!");

    const imported = await cli(["import", "kubeless", "echo-java.yaml"]);
    expect({ code: imported.code, stderr: imported.stderr }).toMatchObject({ code: 0 });
    const answer = await fetch(`${runlet.url}/function/echo-java`, { method: "POST", body: "Ada" });
    expect(await answer.text()).toBe("Ada from echo-java (java11, 30s)");

    // A handler that is not Class.method says how Kubeless names it.
    const wrong = await cli([
      "deploy",
      "get-java",
      "--runtime",
      "java",
      "--compat",
      "kubeless",
      "--handler",
      "Foo",
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("Class.method");
  }, 600_000);
});
