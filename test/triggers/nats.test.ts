import { StringCodec, type NatsConnection } from "nats";
import { describe, expect, it } from "vitest";
import { startTestNats } from "../helpers/nats.js";
import { eventually, startTestRunlet, tempDir, type TestRunlet } from "../helpers/runlet.js";

const sc = StringCodec();

/** Answers {order, upper, delivery}; fails for order "bad", and on the first delivery of "flaky". */
const orders = `export default async function (event) {
  const order = event.body.order;
  const delivery = Number(event.headers["x-nats-delivery"] ?? 0);
  if (order === "bad" || (order === "flaky" && delivery === 1)) {
    return { statusCode: 500, body: { error: { code: "ORDER_FAILED", message: "cannot take " + order } } };
  }
  return { order, upper: String(order).toUpperCase(), subject: event.headers["x-nats-subject"], delivery };
}
`;

async function createTrigger(runlet: TestRunlet, body: Record<string, unknown>): Promise<Response> {
  return runlet.api("/api/v1/triggers", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

/** Collects messages on `subject` as parsed JSON. */
function collect(nc: NatsConnection, subject: string): unknown[] {
  const seen: unknown[] = [];
  nc.subscribe(subject, { callback: (_error, msg) => seen.push(JSON.parse(sc.decode(msg.data))) });
  return seen;
}

/**
 * The answer to a request on `subject`. The trigger's subscription starts in the background
 * after the deploy, so the request is made again until it is there.
 */
function firstReply(
  nc: NatsConnection,
  subject: string,
  body: unknown,
): Promise<Record<string, unknown>> {
  return eventually(
    async () => {
      try {
        const msg = await nc.request(subject, sc.encode(JSON.stringify(body)), { timeout: 2000 });
        return JSON.parse(sc.decode(msg.data)) as Record<string, unknown>;
      } catch {
        return undefined;
      }
    },
    { what: `a reply from the NATS trigger on ${subject}`, timeoutMs: 20_000 },
  );
}

describe("NATS triggers", () => {
  it("connects to a NATS server that asks for a user and password given in the URL", async () => {
    const auth = { user: "runlet", password: "p@ss word" };
    const nats = await startTestNats(auth);
    const withCredentials = nats.url.replace(
      "nats://",
      `nats://${auth.user}:${encodeURIComponent(auth.password)}@`,
    );
    const runlet = await startTestRunlet({ natsUrl: withCredentials });
    const deployed = await runlet.deploy(
      "orders",
      { "index.js": orders },
      { triggers: [{ nats: "orders.created" }] },
    );
    expect(deployed.status).toBe(201);
    const nc = await nats.connect();
    const answer = await firstReply(nc, "orders.created", { order: "tea" });
    expect(answer).toMatchObject({ order: "tea", upper: "TEA" });
  });

  it("calls the function per message, answers requests, publishes to reply and error subjects", async () => {
    const nats = await startTestNats();
    const runlet = await startTestRunlet({ natsUrl: nats.url });
    const deployed = await runlet.deploy(
      "orders",
      { "index.js": orders },
      {
        triggers: [
          {
            nats: "orders.created",
            queue: "workers",
            reply: "orders.done",
            errorSubject: "orders.failed",
          },
        ],
      },
    );
    expect(deployed.status).toBe(201);
    const nc = await nats.connect();
    const done = collect(nc, "orders.done");
    const failed = collect(nc, "orders.failed");
    await nc.flush();

    // Request/reply: the requester gets the function's response.
    const answer = await firstReply(nc, "orders.created", { order: "tea" });
    expect(answer).toMatchObject({ order: "tea", upper: "TEA", subject: "orders.created" });
    await eventually(() => done.length >= 1, { what: "the response on orders.done" });
    expect(done[0]).toMatchObject({ order: "tea", upper: "TEA" });

    // A plain publish that fails goes to the error subject (and a requester hears it too).
    nc.publish("orders.created", sc.encode(JSON.stringify({ order: "bad" })));
    await eventually(() => failed.length >= 1, { what: "the failure on orders.failed" });
    expect(failed[0]).toMatchObject({
      trigger: "orders.nats-1",
      function: "orders",
      subject: "orders.created",
      status: 500,
      response: { error: { code: "ORDER_FAILED" } },
    });
    const refused = await nc.request(
      "orders.created",
      sc.encode(JSON.stringify({ order: "bad" })),
      {
        timeout: 5000,
      },
    );
    expect(refused.headers?.get("Runlet-Status")).toBe("500");
    expect(done.length).toBe(1);
  });

  it("acknowledges a JetStream message only after the function succeeded (redelivery after a failure)", async () => {
    const nats = await startTestNats();
    const dataDir = await tempDir();
    const runlet = await startTestRunlet({ natsUrl: nats.url, dataDir });
    const nc = await nats.connect();
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: "JOBS", subjects: ["jobs.>"] });
    expect((await runlet.deploy("orders", { "index.js": orders })).status).toBe(201);

    // A trigger naming a stream that does not exist is refused with the reason.
    const missing = await createTrigger(runlet, {
      name: "jobs-missing",
      function: "orders",
      nats: "jobs.new",
      stream: "NOPE",
    });
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { error: { message: string } }).error.message).toContain(
      "stream NOPE does not exist",
    );

    const done = collect(nc, "jobs.done");
    await nc.flush();
    const created = await createTrigger(runlet, {
      name: "jobs",
      function: "orders",
      nats: "jobs.new",
      stream: "JOBS",
      consumer: "orders-worker",
      reply: "jobs.done",
      retryDelay: "200ms",
      maxDeliver: 4,
    });
    expect(created.status).toBe(201);
    const js = nc.jetstream();
    await js.publish("jobs.new", sc.encode(JSON.stringify({ order: "flaky" })));

    // The first delivery fails (nak), the second succeeds and is acknowledged.
    await eventually(() => done.length >= 1, {
      what: "the redelivered job's result",
      timeoutMs: 20_000,
    });
    expect(done[0]).toMatchObject({ order: "flaky", upper: "FLAKY", delivery: 2 });
    const info = await eventually(
      async () => {
        const consumer = await jsm.consumers.info("JOBS", "orders-worker");
        return consumer.ack_floor.stream_seq === 1 && consumer.num_ack_pending === 0
          ? consumer
          : undefined;
      },
      { what: "the message to be acknowledged" },
    );
    // Two deliveries of the one message: the failed one and the acknowledged one.
    expect(info.delivered.consumer_seq).toBe(2);
    expect(done.length).toBe(1);

    // Messages published while Runlet is down wait in the stream; after a restart the same
    // durable consumer picks them up.
    await runlet.close(2000);
    await js.publish("jobs.new", sc.encode(JSON.stringify({ order: "later" })));
    await startTestRunlet({ natsUrl: nats.url, dataDir });
    await eventually(() => done.length >= 2, {
      what: "the job sent while down",
      timeoutMs: 20_000,
    });
    expect(done[1]).toMatchObject({ order: "later", delivery: 1 });
  });

  it("gives a JetStream message up after maxDeliver failures and reports it on the error subject", async () => {
    const nats = await startTestNats();
    const runlet = await startTestRunlet({ natsUrl: nats.url });
    const nc = await nats.connect();
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: "JOBS", subjects: ["jobs.>"] });
    expect((await runlet.deploy("orders", { "index.js": orders })).status).toBe(201);
    const failed = collect(nc, "jobs.failed");
    await nc.flush();
    const created = await createTrigger(runlet, {
      name: "jobs",
      function: "orders",
      nats: "jobs.new",
      stream: "JOBS",
      errorSubject: "jobs.failed",
      retryDelay: "100ms",
      maxDeliver: 2,
    });
    expect(created.status).toBe(201);
    await nc.jetstream().publish("jobs.new", sc.encode(JSON.stringify({ order: "bad" })));
    await eventually(() => failed.length >= 1, { what: "the give-up report", timeoutMs: 20_000 });
    expect(failed[0]).toMatchObject({ trigger: "jobs", subject: "jobs.new", status: 500 });
    const info = await eventually(
      async () => {
        const consumer = await jsm.consumers.info("JOBS", "runlet-jobs");
        return consumer.num_ack_pending === 0 && consumer.num_pending === 0 ? consumer : undefined;
      },
      { what: "the message to be settled" },
    );
    // Delivered exactly maxDeliver times, reported once.
    expect(info.delivered.consumer_seq).toBe(2);
    expect(failed).toHaveLength(1);
  });

  it("keeps serving after the NATS server restarts", async () => {
    const nats = await startTestNats();
    const runlet = await startTestRunlet({ natsUrl: nats.url });
    expect(
      (
        await runlet.deploy(
          "orders",
          { "index.js": orders },
          { triggers: [{ nats: "orders.created" }] },
        )
      ).status,
    ).toBe(201);
    const nc = await nats.connect();
    const ask = (order: string) =>
      eventually(
        async () => {
          try {
            const msg = await nc.request("orders.created", sc.encode(JSON.stringify({ order })), {
              timeout: 1000,
            });
            return JSON.parse(sc.decode(msg.data)) as Record<string, unknown>;
          } catch {
            return undefined;
          }
        },
        { what: `a reply for ${order}`, timeoutMs: 30_000 },
      );
    expect(await ask("before")).toMatchObject({ upper: "BEFORE" });
    await nats.stop();
    await nats.start();
    expect(await ask("after")).toMatchObject({ upper: "AFTER" });
  });

  it("refuses NATS triggers when the platform has no NATS server", async () => {
    const runlet = await startTestRunlet();
    expect((await runlet.deploy("orders", { "index.js": orders })).status).toBe(201);
    const response = await createTrigger(runlet, { name: "n", function: "orders", nats: "a.b" });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("RUNLET_NATS_NOT_CONFIGURED");
    expect(body.error.message).toContain("--nats");
  });
});
