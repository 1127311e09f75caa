/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it
 * (client-node has none): every replica tries to take or renew the Lease each retry period,
 * with a compare-and-swap on its resourceVersion; a replica that sees another holder waits
 * until the Lease has gone unrenewed for its duration, as timed by its own clock (never by the
 * timestamps in the Lease, so clock skew between nodes does not matter); a leader that cannot
 * renew within the renew deadline stops acting before anyone else may start. A leader that stops
 * gracefully releases the Lease, so the next one takes over at its next try.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { systemClock, type Clock, type TimerHandle } from "../clock.js";
import { isConflict, isNotFound, type KubeClient, type KubeObject } from "./kube-client.js";

export interface LeaseSpec {
  readonly holderIdentity?: string;
  readonly leaseDurationSeconds?: number;
  readonly acquireTime?: string;
  readonly renewTime?: string;
  readonly leaseTransitions?: number;
}

interface Lease extends KubeObject {
  readonly spec?: LeaseSpec;
}

export interface LeaderElectionOptions {
  readonly client: KubeClient;
  readonly namespace: string;
  readonly leaseName: string;
  /** Field manager written with each update. */
  readonly fieldManager: string;
  /** @default `${hostname()}-${random}` */
  readonly identity?: string;
  /** How long a Lease holds without renewal. @default 15_000 */
  readonly leaseDurationMs?: number;
  /** A leader that has not renewed for this long stops acting. @default 10_000 */
  readonly renewDeadlineMs?: number;
  /** How often to try to take or renew. @default 2_000 */
  readonly retryPeriodMs?: number;
  readonly onStartedLeading?: () => void;
  readonly onStoppedLeading?: () => void;
  /** A new leader was seen (this replica or another). */
  readonly onNewLeader?: (identity: string) => void;
  readonly onError?: (error: unknown) => void;
  /** @default systemClock */
  readonly clock?: Clock;
}

export type ElectionState = "unknown" | "leader" | "follower";

export class LeaderElection {
  readonly identity: string;
  readonly #o: Required<
    Omit<
      LeaderElectionOptions,
      "identity" | "onStartedLeading" | "onStoppedLeading" | "onNewLeader" | "onError"
    >
  > &
    LeaderElectionOptions;
  #state: ElectionState = "unknown";
  #leader = "";
  /** The Lease's holder and renewTime as last read, and when (by our clock) they last changed. */
  #observed = "";
  #observedAt = 0;
  #lastRenew = 0;
  #lease: Lease | undefined;
  #timer: TimerHandle | undefined;
  #stopped = false;
  #trying: Promise<void> | undefined;

  constructor(options: LeaderElectionOptions) {
    this.identity = options.identity ?? `${hostname()}-${randomBytes(4).toString("hex")}`;
    this.#o = {
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      clock: systemClock,
      ...options,
    };
  }

  get state(): ElectionState {
    return this.#state;
  }

  get isLeader(): boolean {
    return this.#state === "leader";
  }

  /** The holder last seen ("" when none). */
  get leader(): string {
    return this.#leader;
  }

  start(): void {
    this.#stopped = false;
    this.#tick();
  }

  /** Stops trying; a leader releases the Lease so another replica takes over at once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#o.clock.clearTimeout(this.#timer);
    await this.#trying;
    if (this.#state === "leader") {
      this.#setState("follower");
      await this.#release().catch((error: unknown) => this.#o.onError?.(error));
    }
  }

  #tick(): void {
    if (this.#stopped) {
      return;
    }
    this.#trying = this.#tryAcquireOrRenew()
      .then((held) => {
        const now = this.#o.clock.now();
        if (held) {
          this.#lastRenew = now;
          this.#setState("leader");
        } else if (this.#state === "leader") {
          // Keep acting while the renewal may still succeed in time; the others wait a whole
          // lease duration, longer than this deadline.
          if (now - this.#lastRenew >= this.#o.renewDeadlineMs) {
            this.#setState("follower");
          }
        } else if (this.#leader !== "") {
          this.#setState("follower");
        }
      })
      .finally(() => {
        if (!this.#stopped) {
          this.#timer = this.#o.clock.setTimeout(() => this.#tick(), this.#o.retryPeriodMs);
          this.#timer.unref();
        }
      });
  }

  #setState(state: ElectionState): void {
    const before = this.#state;
    this.#state = state;
    if (before !== "leader" && state === "leader") {
      this.#o.onStartedLeading?.();
    } else if (before === "leader" && state !== "leader") {
      this.#o.onStoppedLeading?.();
    }
  }

  #seeLeader(identity: string): void {
    if (identity !== this.#leader) {
      this.#leader = identity;
      if (identity !== "") {
        this.#o.onNewLeader?.(identity);
      }
    }
  }

  get #path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.#o.namespace)}/leases`;
  }

  /** One attempt; true when this replica holds the Lease afterwards. */
  async #tryAcquireOrRenew(): Promise<boolean> {
    const { client, clock } = this.#o;
    const now = clock.now();
    const durationSeconds = Math.ceil(this.#o.leaseDurationMs / 1000);
    try {
      let lease: Lease;
      try {
        lease = await client.get<Lease>(`${this.#path}/${encodeURIComponent(this.#o.leaseName)}`);
      } catch (error) {
        if (!isNotFound(error)) {
          throw error;
        }
        const stamp = microTime(now);
        this.#lease = await client.create<Lease>(
          this.#path,
          {
            apiVersion: "coordination.k8s.io/v1",
            kind: "Lease",
            metadata: { name: this.#o.leaseName, namespace: this.#o.namespace },
            spec: {
              holderIdentity: this.identity,
              leaseDurationSeconds: durationSeconds,
              acquireTime: stamp,
              renewTime: stamp,
              leaseTransitions: 0,
            },
          },
          this.#o.fieldManager,
        );
        this.#seeLeader(this.identity);
        return true;
      }
      const spec = lease.spec ?? {};
      const holder = spec.holderIdentity ?? "";
      const record = `${holder}@${spec.renewTime ?? ""}`;
      if (record !== this.#observed) {
        this.#observed = record;
        this.#observedAt = now;
      }
      this.#seeLeader(holder);
      const heldByOther = holder !== "" && holder !== this.identity;
      const expiresAt = this.#observedAt + (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
      if (heldByOther && now < expiresAt) {
        return false;
      }
      const stamp = microTime(now);
      const taking = holder !== this.identity;
      this.#lease = await client.replace<Lease>(
        `${this.#path}/${encodeURIComponent(this.#o.leaseName)}`,
        {
          ...lease,
          spec: {
            holderIdentity: this.identity,
            leaseDurationSeconds: durationSeconds,
            acquireTime: taking ? stamp : (spec.acquireTime ?? stamp),
            renewTime: stamp,
            leaseTransitions: (spec.leaseTransitions ?? 0) + (taking && holder !== "" ? 1 : 0),
          },
        },
        this.#o.fieldManager,
      );
      this.#observed = `${this.identity}@${stamp}`;
      this.#observedAt = now;
      this.#seeLeader(this.identity);
      return true;
    } catch (error) {
      // A conflict is another replica's write landing first: not an error, just not ours.
      if (!isConflict(error)) {
        this.#o.onError?.(error);
      }
      return false;
    }
  }

  async #release(): Promise<void> {
    const lease = this.#lease;
    if (lease === undefined) {
      return;
    }
    const current = await this.#o.client.get<Lease>(
      `${this.#path}/${encodeURIComponent(this.#o.leaseName)}`,
    );
    if (current.spec?.holderIdentity !== this.identity) {
      return;
    }
    await this.#o.client.replace(
      `${this.#path}/${encodeURIComponent(this.#o.leaseName)}`,
      {
        ...current,
        spec: {
          ...current.spec,
          holderIdentity: "",
          leaseDurationSeconds: 1,
          renewTime: microTime(this.#o.clock.now()),
        },
      },
      this.#o.fieldManager,
    );
    this.#seeLeader("");
  }
}

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}
