// Image names as stack files and faas-cli write them, brought to one form (issue 17), and the names refused with why.
import { describe, expect, it } from "vitest";
import { normalizeImageName } from "../../src/spec/image-name.js";

const form = (name: string) => {
  const checked = normalizeImageName(name);
  return checked.ok ? checked.image : `problem: ${checked.problem}`;
};

describe("image names", () => {
  it("gives every spelling Docker treats as one image one form, latest when untagged", () => {
    expect(form("hello")).toBe("hello:latest");
    expect(form("hello:latest")).toBe("hello:latest");
    expect(form("library/hello")).toBe("hello:latest");
    expect(form("docker.io/library/hello:latest")).toBe("hello:latest");
    expect(form("docker.io/me/hello:0.1")).toBe("me/hello:0.1");
    expect(form("index.docker.io/me/hello:0.1")).toBe("me/hello:0.1");
    expect(form("me/hello:0.1")).toBe("me/hello:0.1");
    expect(form("  hello:0.1 ")).toBe("hello:0.1");
    // Other registries, a port and localhost stay as written.
    expect(form("ghcr.io/openfaas/figlet:latest")).toBe("ghcr.io/openfaas/figlet:latest");
    expect(form("registry.example.com:5000/team/fn")).toBe(
      "registry.example.com:5000/team/fn:latest",
    );
    expect(form("localhost/fn:dev")).toBe("localhost/fn:dev");
    expect(form("my_org/fn__x.y-z:V1.2_rc-3")).toBe("my_org/fn__x.y-z:V1.2_rc-3");
  });

  it("refuses what is no image name, saying what is wrong", () => {
    expect(form("")).toContain("an image name is required");
    expect(form("Hello:latest")).toContain(
      '"Hello" in "Hello:latest" is not a valid image name part',
    );
    expect(form("hello world")).toContain("not a valid image name part");
    expect(form("hello:")).toContain('"" is not a valid tag');
    expect(form("hello:-x")).toContain('"-x" is not a valid tag');
    // A colon before a slash is a registry port.
    expect(form("hello:a/b")).toContain('"hello:a" in "hello:a/b" is not a valid registry host');
    expect(form("../etc/passwd")).toContain('".." in');
    expect(form("a//b")).toContain('"" in "a//b"');
    expect(form("hello@sha256:" + "a".repeat(64))).toContain("pinned to a registry digest");
    expect(form("bad_host.io:x/fn")).toContain("not a valid registry host");
    expect(form(`${"a".repeat(256)}:1`)).toContain(
      "256 characters long before its tag; the limit is 255",
    );
    expect(form(`a:${"t".repeat(129)}`)).toContain("129 characters long; the limit is 128");
    // The longest name and tag are fine.
    expect(form(`${"a".repeat(255)}:${"t".repeat(128)}`)).toBe(
      `${"a".repeat(255)}:${"t".repeat(128)}`,
    );
    expect(form("hello\nx")).toContain("not a valid");
  });
});
