package dev.runlet;

/** What the call runs in: its id, the function, its deadline and the function's secrets. */
public interface Context {
  /** The call's id, also on every log line the call writes. */
  String callId();

  String functionName();

  String revision();

  /** Epoch milliseconds when the call times out (0: no deadline). */
  long deadline();

  /** Milliseconds left before the deadline (Long.MAX_VALUE without one). */
  long remainingMillis();

  /** Whether the caller went away or the call ran past its deadline. */
  boolean cancelled();

  /** A secret the function is given, or null. */
  String secret(String name);

  /** The directory holding the secrets as files (/var/openfaas/secrets in the sandbox). */
  String secretsDir();
}
