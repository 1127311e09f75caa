/**
 * The tmobile faas-java-templates (issue 19) as `faas-cli new NAME --lang springboot|vertx`
 * writes a function: a stack file naming the lang and a folder with function.Handler (the
 * template's RequestHandler), its pom.xml (springboot) or build.gradle (vertx). Their
 * runners are Runlet's: Spring Boot is started once per instance with the Handler as its
 * bean, and both answer POST / with what the handler returns.
 */
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { javaRuntime } from "../../src/host/java-runtime.js";
import { runCli } from "../helpers/cli.js";
import {
  adminToken,
  eventually,
  sharedBuildCache,
  startTestRunlet,
  tempDir,
} from "../helpers/runlet.js";

async function writeFiles(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  }
}

// The springboot template's function folder: a Java 8 pom with the animal-sniffer check.
const springPom = `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 http://maven.apache.org/xsd/maven-4.0.0.xsd">
    <modelVersion>4.0.0</modelVersion>
    <groupId>function</groupId>
    <artifactId>handler</artifactId>
    <version>1.0-SNAPSHOT</version>
    <properties>
        <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
        <java.version>1.8</java.version>
        <maven.compiler.source>\${java.version}</maven.compiler.source>
        <maven.compiler.target>\${java.version}</maven.compiler.target>
    </properties>
    <build>
        <plugins>
            <plugin>
                <groupId>org.codehaus.mojo</groupId>
                <artifactId>animal-sniffer-maven-plugin</artifactId>
                <version>1.16</version>
                <configuration>
                    <signature>
                        <groupId>org.codehaus.mojo.signature</groupId>
                        <artifactId>java18</artifactId>
                        <version>1.0</version>
                    </signature>
                </configuration>
                <executions>
                    <execution>
                        <id>sniff-jdk</id>
                        <goals><goal>check</goal></goals>
                        <phase>compile</phase>
                    </execution>
                </executions>
            </plugin>
        </plugins>
    </build>
</project>
`;

const springRequestHandler = `package function;

public interface RequestHandler {
    String handle(byte[] requestPayload);
}
`;

const springHandler = `package function;

public class Handler implements RequestHandler {
    @Override
    public String handle(byte[] requestPayload) {
        return String.format("Hello, SpringBoot, You said: %s", new String(requestPayload));
    }
}
`;

// A handler that shows it is a Spring bean: Spring sets its field from application.properties.
const springBeanHandler = `package function;

import org.springframework.beans.factory.annotation.Value;

public class Handler implements RequestHandler {
    @Value("\${greeting}")
    private String greeting;

    private int calls;

    @Override
    public String handle(byte[] requestPayload) {
        calls++;
        return greeting + ", " + new String(requestPayload) + " (call " + calls + ")";
    }
}
`;

const vertxGradle = `group 'function'
version '1.0-SNAPSHOT'

apply plugin: 'java'

sourceCompatibility = 1.8

repositories {
    mavenCentral()
}

dependencies {
    testCompile group: 'junit', name: 'junit', version: '4.12'
}
`;

const vertxRequestHandler = `package function;

public interface RequestHandler {
    String Handle(byte[] requestPayload);
}
`;

// The vertx example formats the byte array itself, so its answer names the array, not the text.
const vertxHandler = `package function;

public class Handler implements RequestHandler {
    @Override
    public String Handle(byte[] requestPayload) {
       return String.format("Hello, Vertx. You said: %s", requestPayload);
    }
}
`;

const stack = `version: 1.0
provider:
  name: openfaas
  gateway: http://127.0.0.1:8080
functions:
  hello-spring:
    lang: springboot
    handler: ./hello-spring
    image: hello-spring:latest
  bean-spring:
    lang: springboot
    handler: ./bean-spring
    image: bean-spring:latest
  hello-vertx:
    lang: vertx
    handler: ./hello-vertx
    image: hello-vertx:latest
`;

describe("the tmobile faas-java-templates", () => {
  it("deploys springboot and vertx functions from their stack file and answers POST /", async () => {
    const runlet = await startTestRunlet({ buildCacheDir: sharedBuildCache() });
    const cwd = await tempDir("runlet-java-faas-templates-");
    const env = { RUNLET_GATEWAY: runlet.url, RUNLET_TOKEN: adminToken };
    await writeFiles(cwd, {
      "stack.yml": stack,
      "hello-spring/pom.xml": springPom,
      "hello-spring/src/main/java/function/RequestHandler.java": springRequestHandler,
      "hello-spring/src/main/java/function/Handler.java": springHandler,
      "bean-spring/pom.xml": springPom,
      "bean-spring/src/main/java/function/RequestHandler.java": springRequestHandler,
      "bean-spring/src/main/java/function/Handler.java": springBeanHandler,
      "bean-spring/src/main/resources/application.properties": "greeting=Welcome\n",
      "hello-vertx/build.gradle": vertxGradle,
      "hello-vertx/src/main/java/function/RequestHandler.java": vertxRequestHandler,
      "hello-vertx/src/main/java/function/Handler.java": vertxHandler,
    });
    const cli = (argv: string[]) => runCli(argv, { cwd, env });
    const deployed = await cli(["deploy", "-f", "stack.yml"]);
    expect({ code: deployed.code, stderr: deployed.stderr }).toMatchObject({ code: 0 });
    // The build says the template's runner is Runlet's, and with which Spring Boot.
    expect(deployed.stdout + deployed.stderr).toContain("spring-boot-starter:3.5.14");

    const spring = await fetch(`${runlet.url}/function/hello-spring`, {
      method: "POST",
      body: "Ada",
    });
    expect(spring.status).toBe(200);
    expect(spring.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await spring.text()).toBe("Hello, SpringBoot, You said: Ada");

    // One bean per instance: Spring injected the property, and the count goes on.
    const first = await fetch(`${runlet.url}/function/bean-spring`, {
      method: "POST",
      body: "Ada",
    });
    expect(await first.text()).toBe("Welcome, Ada (call 1)");
    const second = await fetch(`${runlet.url}/function/bean-spring`, {
      method: "POST",
      body: "Bob",
    });
    expect(await second.text()).toBe("Welcome, Bob (call 2)");

    // The templates route POST / only.
    const get = await fetch(`${runlet.url}/function/hello-spring`);
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
    expect((await get.json()) as unknown).toMatchObject({
      error: { code: "RUNLET_METHOD_NOT_ALLOWED" },
    });
    const other = await fetch(`${runlet.url}/function/hello-spring/other`, {
      method: "POST",
      body: "x",
    });
    expect(other.status).toBe(404);

    const vertx = await fetch(`${runlet.url}/function/hello-vertx`, {
      method: "POST",
      body: "Ada",
    });
    expect(vertx.status).toBe(200);
    expect(vertx.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await vertx.text()).toMatch(/^Hello, Vertx\. You said: \[B@[0-9a-f]+$/);
    expect(deployed.stdout + deployed.stderr).toContain("lang vertx: the template's runner");

    // Spring Boot not starting fails the deploy with Spring's reason; so does a handler
    // without the template's method.
    await writeFiles(cwd, {
      "broken-spring/pom.xml": springPom,
      "broken-spring/src/main/java/function/RequestHandler.java": springRequestHandler,
      "broken-spring/src/main/java/function/Handler.java": springBeanHandler,
      "no-method/build.gradle": vertxGradle,
      "no-method/src/main/java/function/Handler.java":
        'package function;\n\npublic class Handler {\n    public String hello() { return "hi"; }\n}\n',
    });
    const broken = await cli([
      "deploy",
      "broken-spring",
      "--runtime",
      "java",
      "--compat",
      "openfaas-springboot",
      "--handler",
      "function.Handler",
    ]);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain("Spring Boot did not start");
    expect(broken.stderr).toContain("greeting");
    const noMethod = await cli([
      "deploy",
      "no-method",
      "--runtime",
      "java",
      "--compat",
      "openfaas-vertx",
      "--handler",
      "function.Handler",
    ]);
    expect(noMethod.code).toBe(1);
    expect(noMethod.stderr).toContain("String Handle(byte[] requestPayload)");

    // The shape is a Java one: another runtime is told so before anything is built.
    const wrong = await cli([
      "deploy",
      "hello-vertx",
      "--runtime",
      "node",
      "--compat",
      "openfaas-vertx",
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("deploy it with --runtime java");
  }, 900_000);

  it("starts Spring Boot in the warm pool once a springboot function has been built", async () => {
    const runlet = await startTestRunlet({ poolSize: 1, buildCacheDir: sharedBuildCache() });
    const cwd = await tempDir("runlet-java-springboot-pool-");
    const env = { RUNLET_GATEWAY: runlet.url, RUNLET_TOKEN: adminToken };
    // The handler names the class loader Spring Boot's classes are in: the pool's shared one
    // ("springboot", warmed before the function came) or the function's own ("function").
    const loaderHandler = `package function;

public class Handler implements RequestHandler {
    @Override
    public String handle(byte[] requestPayload) {
        return org.springframework.boot.SpringApplication.class.getClassLoader().getName();
    }
}
`;
    await writeFiles(cwd, {
      "stack.yml": `version: 1.0
provider:
  name: openfaas
functions:
  loader-one:
    lang: springboot
    handler: ./loader
  loader-two:
    lang: springboot
    handler: ./loader
`,
      // A library of the function's own, which the pool's Spring Boot must never hold.
      "loader/pom.xml": springPom.replace(
        "    <build>",
        "    <dependencies>\n        <dependency>\n            <groupId>org.apache.commons</groupId>\n            <artifactId>commons-lang3</artifactId>\n            <version>3.14.0</version>\n        </dependency>\n    </dependencies>\n    <build>",
      ),
      "loader/src/main/java/function/RequestHandler.java": springRequestHandler,
      "loader/src/main/java/function/Handler.java": loaderHandler,
    });
    const cli = (argv: string[]) => runCli(argv, { cwd, env });
    const deployed = await cli(["deploy", "-f", "stack.yml", "loader-one"]);
    expect({ code: deployed.code, stderr: deployed.stderr }).toMatchObject({ code: 0 });
    const first = await fetch(`${runlet.url}/function/loader-one`, { method: "POST", body: "x" });
    expect(first.status).toBe(200);
    // The pool's jars are the platform's own resolution of Spring Boot, not the function's.
    const shared = await readdir(javaRuntime().springBootLibDir);
    expect(shared).toContain("spring-boot-3.5.14.jar");
    expect(shared.filter((name) => name.startsWith("commons-lang3"))).toEqual([]);
    // Every Java instance of this platform started after the build kept Spring Boot's jars.
    await eventually(
      async () =>
        runlet.platform.executor
          .poolStatus()
          .some((pool) => pool.runtime === "java" && pool.idle === 1) || undefined,
      { what: "a warm java instance", timeoutMs: 120_000 },
    );
    const again = await cli(["deploy", "-f", "stack.yml", "loader-two"]);
    expect({ code: again.code, stderr: again.stderr }).toMatchObject({ code: 0 });
    const second = await fetch(`${runlet.url}/function/loader-two`, { method: "POST", body: "x" });
    expect(second.status).toBe(200);
    expect(await second.text()).toBe("springboot");
  }, 900_000);
});
