/**
 * `--nats` URLs with credentials in them: the nats client reads none from a URL, so they are
 * taken out into connect options, and shown redacted wherever the URL is printed.
 */
import { describe, expect, it } from "vitest";
import {
  natsServerOptions,
  redactNatsServers,
  withNatsPassword,
} from "../../src/host/nats-servers.js";

describe("NATS server URLs", () => {
  it("takes a user and password, or a token, out of the URLs", () => {
    expect(natsServerOptions("nats://a:b%40c@h1:4222,nats://a:b%40c@h2:4222")).toEqual({
      servers: ["nats://h1:4222", "nats://h2:4222"],
      user: "a",
      pass: "b@c",
    });
    expect(natsServerOptions(["nats://t0ken@h:4222"])).toEqual({
      servers: ["nats://h:4222"],
      token: "t0ken",
    });
    expect(natsServerOptions("h:4222")).toEqual({ servers: ["nats://h:4222"] });
    expect(() => natsServerOptions("nats://a:b@h1:4222,nats://a:c@h2:4222")).toThrow(
      /different credentials/,
    );
  });

  it("fills in the password from the environment and never prints it", () => {
    const url = withNatsPassword("nats://runlet@h:4222", "p w");
    expect(natsServerOptions(url)).toMatchObject({ user: "runlet", pass: "p w" });
    expect(redactNatsServers(url)).toBe("nats://runlet:***@h:4222");
    expect(redactNatsServers("nats://t0ken@h:4222")).toBe("nats://***@h:4222");
    expect(() => withNatsPassword("nats://h:4222", "p")).toThrow(/names no user/);
    expect(withNatsPassword("nats://h:4222", undefined)).toBe("nats://h:4222");
  });
});
