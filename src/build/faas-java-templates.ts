/**
 * The tmobile faas-java-templates' springboot lang at build time. The template builds the
 * function folder (function.Handler and its pom.xml) into a runner of its own whose parent
 * is spring-boot-starter-parent 2.0.4.RELEASE; that Spring Boot does not resolve from Maven
 * Central on a JDK 11 or newer (its hibernate-validator names a javafx snapshot that only
 * oss.sonatype.org had). Runlet's runner takes the template's place, with the Spring Boot
 * the Java runtime supplies: the function's pom gets that Spring Boot as a dependency (so the
 * build resolves it with the function's own libraries, in one layer), and a pom whose parent
 * is another spring-boot-starter-parent is moved to it. Both are said in the build log.
 */
import { springBootVersion } from "../host/java-runtime.js";

export interface SpringBootPom {
  readonly pom: string;
  readonly notices: readonly string[];
}

/** Elements whose <dependencies> are not the project's own. */
const nestedContainers = ["dependencyManagement", "build", "profiles", "reporting"];

function nestedRanges(pom: string): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  for (const name of nestedContainers) {
    const pattern = new RegExp(`<${name}>[\\s\\S]*?</${name}>`, "g");
    for (const match of pom.matchAll(pattern)) {
      ranges.push([match.index, match.index + match[0].length]);
    }
  }
  return ranges;
}

const dependency = (artifactId: string): string =>
  [
    "    <dependency>",
    "      <groupId>org.springframework.boot</groupId>",
    `      <artifactId>${artifactId}</artifactId>`,
    `      <version>${springBootVersion}</version>`,
    "    </dependency>",
  ].join("\n");

/** Adds Spring Boot to the pom's own dependencies (unless it names spring-boot-starter already). */
export function springBootPom(source: string): SpringBootPom {
  const notices: string[] = [];
  let pom = source.replace(/<!--[\s\S]*?-->/g, (comment) => " ".repeat(comment.length));
  const original = source;
  const parent =
    /<parent>\s*<groupId>\s*org\.springframework\.boot\s*<\/groupId>\s*<artifactId>\s*spring-boot-starter-parent\s*<\/artifactId>\s*<version>\s*([^<\s]+)\s*<\/version>/.exec(
      pom,
    );
  let text = original;
  if (parent?.[1] !== undefined && parent[1] !== springBootVersion) {
    const at = parent.index + parent[0].lastIndexOf(parent[1]);
    text = `${text.slice(0, at)}${springBootVersion}${text.slice(at + parent[1].length)}`;
    pom = `${pom.slice(0, at)}${springBootVersion}${pom.slice(at + parent[1].length)}`;
    notices.push(
      `pom.xml: spring-boot-starter-parent ${parent[1]} is built as ${springBootVersion} (Spring Boot 3, Java 17: javax.* imports become jakarta.*).`,
    );
  }
  const ranges = nestedRanges(pom);
  const inside = (at: number): boolean => ranges.some(([from, to]) => at > from && at < to);
  const names = /<artifactId>\s*spring-boot-starter(?:-web)?\s*<\/artifactId>/g;
  const named = [...pom.matchAll(names)].some((match) => !inside(match.index));
  if (named) {
    return { pom: text, notices };
  }
  const block = [...pom.matchAll(/<dependencies>/g)].find((match) => !inside(match.index));
  if (block !== undefined) {
    const at = block.index + "<dependencies>".length;
    text = `${text.slice(0, at)}\n${dependency("spring-boot-starter")}${text.slice(at)}`;
    return { pom: text, notices };
  }
  const end = pom.lastIndexOf("</project>");
  if (end < 0) {
    return { pom: text, notices };
  }
  text = `${text.slice(0, end)}  <dependencies>\n${dependency("spring-boot-starter")}\n  </dependencies>\n${text.slice(end)}`;
  return { pom: text, notices };
}

/** What the build log says about a springboot function's runner. */
export const springBootRunnerNotice = `lang springboot: the template's runner (spring-boot-starter-parent 2.0.4.RELEASE, whose hibernate-validator names a javafx snapshot no reachable repository has) is replaced by Runlet's: function.Handler is the bean of a Spring Boot ${springBootVersion} application started once per instance, answering POST /; org.springframework.boot:spring-boot-starter:${springBootVersion} is added to pom.xml's dependencies, and the pom's animal-sniffer Java 8 check is skipped (it cannot read Spring Boot 3's class files; the function runs on Java 17).`;

/** What the build log says about a vertx function's runner. */
export const vertxRunnerNotice =
  "lang vertx: the template's runner (a Vert.x 3.5.0 verticle of its own on port 8081) is Runlet's: a new function.Handler per request, as the verticle makes one, answers POST / with what Handle(byte[]) returns; the runtime server takes the calls, so Vert.x is not loaded.";
