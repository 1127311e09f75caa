package io.kubeless;

/** What a Kubeless Java function is told about itself (public fields: see Event). */
public class Context {
  public String FunctionName;

  /** Seconds, as text ("180"). */
  public String Timeout;

  /** The Kubeless runtime it was written for (FUNC_RUNTIME, else "java"). */
  public String Runtime;

  /** FUNC_MEMORY_LIMIT, else the function's memory in bytes. */
  public String MemoryLimit;

  public Context(String functionName, String timeout, String runtime, String memoryLimit) {
    this.FunctionName = functionName;
    this.Timeout = timeout;
    this.Runtime = runtime;
    this.MemoryLimit = memoryLimit;
  }
}
