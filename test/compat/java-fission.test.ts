/**
 * Fission's JVM environment (issue 19): a class implementing io.fission.Function with Spring's
 * RequestEntity and ResponseEntity, built from its pom.xml as Fission's builder builds it
 * (spring-boot-starter-web and fission-java-core, both scope provided), imported from the
 * specs `fission spec` writes and called as `fission fn test` calls it.
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

// The environment's example pom (Java 17, Spring Boot 3.5), as Fission's builder builds it.
const pom = `<project xmlns="http://maven.apache.org/POM/4.0.0"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 http://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.fission</groupId>
  <artifactId>hello-world</artifactId>
  <version>1.0-SNAPSHOT</version>
  <packaging>jar</packaging>
  <properties>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
    <maven.compiler.release>17</maven.compiler.release>
  </properties>
  <dependencies>
    <dependency>
      <groupId>org.springframework.boot</groupId>
      <artifactId>spring-boot-starter-web</artifactId>
      <version>3.5.14</version>
      <scope>provided</scope>
    </dependency>
    <dependency>
      <groupId>io.fission</groupId>
      <artifactId>fission-java-core</artifactId>
      <version>0.0.2</version>
      <scope>provided</scope>
    </dependency>
  </dependencies>
</project>
`;

const helloWorld = `package io.fission;

import org.springframework.http.RequestEntity;
import org.springframework.http.ResponseEntity;

import io.fission.Function;
import io.fission.Context;

public class HelloWorld implements Function {

	@Override
	public ResponseEntity<?> call(RequestEntity req, Context context) {
		return ResponseEntity.ok("Hello World!");
	}

}
`;

// What a function reads of Spring's request, and a JSON answer with a status and a header.
const echo = `package io.fission;

import java.util.Map;
import org.springframework.http.HttpStatus;
import org.springframework.http.RequestEntity;
import org.springframework.http.ResponseEntity;

public class Echo implements Function {
	@Override
	public ResponseEntity<?> call(RequestEntity req, Context context) {
		return ResponseEntity.status(HttpStatus.ACCEPTED)
			.header("X-Method", req.getMethod().name())
			.body(Map.of("body", String.valueOf(req.getBody()), "agent", req.getHeaders().getFirst("x-agent"),
				"query", req.getUrl().getQuery()));
	}
}
`;

const specs = {
  "specs/env-java.yaml": `apiVersion: fission.io/v1
kind: Environment
metadata:
  name: java
  namespace: default
spec:
  builder:
    image: fission/jvm-builder
  keeparchive: true
  runtime:
    image: fission/jvm-env
  version: 2
`,
  "specs/function-hello-java.yaml": `include:
- src/
- pom.xml
kind: ArchiveUploadSpec
name: helloworld-java

---
apiVersion: fission.io/v1
kind: Package
metadata:
  name: helloworld-java-127w
  namespace: default
spec:
  deployment:
    checksum: {}
  environment:
    name: java
    namespace: default
  source:
    checksum: {}
    type: url
    url: archive://helloworld-java
status:
  buildstatus: pending

---
apiVersion: fission.io/v1
kind: Function
metadata:
  name: hello-java
  namespace: default
spec:
  InvokeStrategy:
    ExecutionStrategy:
      ExecutorType: poolmgr
      MaxScale: 1
      MinScale: 0
      TargetCPUPercent: 80
    StrategyType: execution
  environment:
    name: java
    namespace: default
  package:
    functionName: io.fission.HelloWorld
    packageref:
      name: helloworld-java-127w
      namespace: default
  resources: {}
`,
};

describe("Java functions of Fission's JVM environment", () => {
  it("imports the example's specs, builds its pom with Spring, and answers as fission fn test does", async () => {
    const runlet = await startTestRunlet({ buildCacheDir: sharedBuildCache() });
    const cwd = await tempDir("runlet-java-fission-");
    const env = { RUNLET_GATEWAY: runlet.url, RUNLET_TOKEN: adminToken };
    await writeFiles(cwd, {
      ...specs,
      "pom.xml": pom,
      "src/main/java/io/fission/HelloWorld.java": helloWorld,
      "echo/pom.xml": pom,
      "echo/src/main/java/io/fission/Echo.java": echo,
    });
    const cli = (argv: string[]) => runCli(argv, { cwd, env });
    const imported = await cli(["import", "fission", "specs"]);
    expect({ code: imported.code, stderr: imported.stderr }).toMatchObject({ code: 0 });
    const hello = await fetch(`${runlet.url}/function/hello-java`);
    expect(hello.status).toBe(200);
    expect(hello.headers.get("content-type")).toBe("text/plain;charset=UTF-8");
    expect(await hello.text()).toBe("Hello World!");

    const deployed = await runCli(
      [
        "deploy",
        "echo",
        "--runtime",
        "java",
        "--compat",
        "fission",
        "--handler",
        "io.fission.Echo",
      ],
      { cwd, env },
    );
    expect({ code: deployed.code, stderr: deployed.stderr }).toMatchObject({ code: 0 });
    const answer = await fetch(`${runlet.url}/function/echo/a?x=1`, {
      method: "POST",
      headers: { "x-agent": "test" },
      body: "hi",
    });
    expect(answer.status).toBe(202);
    expect(answer.headers.get("x-method")).toBe("POST");
    expect(answer.headers.get("content-type")).toBe("application/json");
    expect(await answer.json()).toEqual({ body: "hi", agent: "test", query: "x=1" });
  }, 600_000);
});
