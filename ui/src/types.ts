/** The API's answers as the dashboard reads them (src/gateway/views.ts and routes/). */

export interface LoadSummary {
  readonly requestsPerSecond: number;
  readonly errorRate: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly coldStarts: number;
}

export interface FunctionLoad extends LoadSummary {
  readonly name: string;
  readonly revision: number;
  readonly runtime: string;
  readonly replicas: number;
  readonly availableReplicas: number;
  readonly inFlight: number;
}

export interface MetricsSummary {
  readonly windowSeconds: number;
  readonly stepSeconds: number;
  readonly platform: LoadSummary & { readonly replicas: number; readonly inFlight: number };
  readonly functions: readonly FunctionLoad[];
}

export type SeriesName =
  | "ok"
  | "clientErrors"
  | "serverErrors"
  | "p50Ms"
  | "p99Ms"
  | "coldStarts"
  | "replicas"
  | "inFlight";

export interface MetricsHistory {
  readonly stepSeconds: number;
  readonly times: readonly number[];
  readonly series: Partial<Record<SeriesName, readonly (number | null)[]>>;
}

export interface TriggerView {
  readonly name: string;
  readonly kind: string;
  readonly function: string;
  readonly [field: string]: unknown;
}

export interface FunctionView {
  readonly name: string;
  readonly revision: number;
  readonly package: string;
  readonly config: Readonly<Record<string, unknown>> & {
    readonly runtime: string;
    readonly auth?: string;
  };
  readonly env: Readonly<Record<string, string>>;
  readonly secrets: readonly string[];
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly replicas: number;
  readonly availableReplicas: number;
  readonly triggers?: readonly TriggerView[];
}

export interface RevisionView {
  readonly revision: number;
  readonly package: string;
  readonly createdAt: string;
  readonly spec: { readonly runtime: string; readonly [field: string]: unknown };
}

export interface CallView {
  readonly id: string;
  readonly state: string;
  readonly method: string;
  readonly path: string;
  readonly attempts: number;
  readonly statusCode?: number;
  readonly createdAt: string;
  readonly finishedAt?: string;
  readonly durationSeconds?: number;
  readonly lastError?: string;
  readonly result?: {
    readonly headers: Readonly<Record<string, string>>;
    readonly size: number;
    readonly truncated: boolean;
    readonly body: string;
    readonly bodyEncoding: "utf8" | "base64";
  };
}

export interface LogLine {
  readonly time: string;
  readonly instance: string;
  readonly callId?: string;
  readonly stream: string;
  readonly text: string;
}
