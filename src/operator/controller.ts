/**
 * A controller: a work queue of keys fed by informers, and workers that reconcile one key at a
 * time each (never two workers on one key), while this replica is the leader. A reconcile that
 * throws is queued again after its key's back-off; one that asks to be looked at again later
 * is queued after that delay.
 */
import type { OperatorMetrics } from "./operator-metrics.js";
import { WorkQueue, type WorkQueueOptions } from "./work-queue.js";

export interface ReconcileResult {
  /** Look at this key again after this long, e.g. while waiting for children to go. */
  readonly requeueAfterMs?: number;
}

export interface Reconciler {
  readonly name: string;
  reconcile(key: string): Promise<ReconcileResult | undefined>;
}

export interface ControllerOptions {
  readonly reconciler: Reconciler;
  readonly metrics: OperatorMetrics;
  /** Keys worked on at once (each key by one worker at a time). @default 4 */
  readonly workers?: number;
  readonly queue?: WorkQueueOptions;
  /** Told about each failed reconcile (for logs). */
  readonly onError?: (key: string, error: unknown) => void;
}

export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  readonly #options: ControllerOptions;
  #running: Promise<void>[] = [];
  #acting = false;

  constructor(options: ControllerOptions) {
    this.name = options.reconciler.name;
    this.#options = options;
    this.queue = new WorkQueue(options.queue);
    options.metrics.queueDepth.set({ controller: this.name }, 0);
  }

  enqueue(key: string): void {
    this.queue.add(key);
    this.#options.metrics.queueDepth.set({ controller: this.name }, this.queue.depth);
  }

  get acting(): boolean {
    return this.#acting;
  }

  /** Starts the workers (on becoming leader). */
  start(): void {
    if (this.#acting) {
      return;
    }
    this.#acting = true;
    const workers = this.#options.workers ?? 4;
    this.#running = Array.from({ length: workers }, () => this.#work());
  }

  /**
   * Stops handing out keys (on losing leadership, or shutting down); resolves when the
   * reconciles in progress have finished. Queued keys stay for the next start().
   */
  async stop(): Promise<void> {
    this.#acting = false;
    // Idle workers wake with no key and leave; busy ones leave after their reconcile.
    this.queue.releaseWaiters();
    await Promise.all(this.#running);
    this.#running = [];
  }

  /** Ends the queue for good. */
  async shutDown(): Promise<void> {
    await this.stop();
    this.queue.shutDown();
  }

  async #work(): Promise<void> {
    const { reconciler, metrics } = this.#options;
    const labels = { controller: this.name };
    while (this.#acting) {
      const key = await this.queue.get();
      if (key === undefined) {
        return;
      }
      if (!this.#acting) {
        // Not ours to act on any more: hand it back for the next leader term.
        this.queue.done(key);
        this.queue.add(key);
        return;
      }
      const end = metrics.reconcileSeconds.startTimer(labels);
      try {
        const result = await reconciler.reconcile(key);
        this.queue.forget(key);
        if (result?.requeueAfterMs !== undefined) {
          this.queue.addAfter(key, result.requeueAfterMs);
          metrics.reconciles.inc({ ...labels, result: "requeue" });
        } else {
          metrics.reconciles.inc({ ...labels, result: "ok" });
        }
      } catch (error) {
        metrics.reconciles.inc({ ...labels, result: "error" });
        metrics.reconcileErrors.inc(labels);
        this.#options.onError?.(key, error);
        this.queue.addRateLimited(key);
      } finally {
        end();
        this.queue.done(key);
        metrics.queueDepth.set(labels, this.queue.depth);
      }
    }
  }
}
