package dev.runlet.runtime;

import dev.runlet.Function;
import java.io.IOException;
import java.lang.reflect.Field;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The Java runtime server (docs/java.md): a JVM that starts generic, answers /healthz, is
 * specialized once (POST /v2/specialize) by loading a function's classes in a class loader of
 * their own, then serves calls over HTTP and, when asked for, over frames. Protocol:
 * docs/runtime-protocol.md. JDK only: nothing on the class path but this and the Runlet API.
 */
public final class Server {
  /** Handler threads at most: instances have a process-and-thread limit (256 by default). */
  private static final int MAX_HANDLER_THREADS = 128;

  private final Object lock = new Object();
  private volatile Invoker invoker;
  private boolean specializing;

  public static void main(String[] args) throws Exception {
    Control control;
    try {
      control = Control.open(System.getenv("RUNLET_CONTROL_FD"));
    } catch (IOException | NumberFormatException e) {
      System.err.println("runlet: cannot open the control channel: " + e);
      System.exit(1);
      return;
    }
    new Server().run(control);
  }

  private void run(Control control) throws Exception {
    ThreadPoolExecutor handlers = new ThreadPoolExecutor(
        MAX_HANDLER_THREADS, MAX_HANDLER_THREADS, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
        named("runlet-call"));
    handlers.allowCoreThreadTimeOut(true);
    ExecutorService connections = Executors.newCachedThreadPool(named("runlet-http"));
    ServerSocketChannel http;
    ServerSocketChannel frames = null;
    try {
      String port = env("PORT", "8888");
      String httpAddress = env("RUNLET_HTTP_ADDRESS", null);
      String socket = env("RUNLET_SOCKET", null);
      http = Listen.open(httpAddress == null && socket == null ? "[::]:" + port : httpAddress, socket);
      String frameAddress = env("RUNLET_FRAME_ADDRESS", null);
      String frameSocket = env("RUNLET_FRAME_SOCKET", null);
      if (frameAddress != null || frameSocket != null) {
        frames = Listen.open(frameAddress, frameSocket);
      }
    } catch (IOException | RuntimeException e) {
      System.err.println("runlet: cannot listen: " + e.getMessage());
      System.exit(1);
      return;
    }
    if ("1".equals(System.getenv("RUNLET_WARMUP"))) {
      warmUp();
      SpringBootPool.warm();
    }
    new HttpServer(http, this::route, connections).start();
    if (frames != null) {
      new FrameServer(frames, this::call, handlers).start();
    }
    exitWhenStdinCloses();
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      handlers.shutdown();
      try {
        handlers.awaitTermination(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }));
    // After the sockets exist and before any function code: call lines are tagged from here.
    CallLog.install(control);
    if (control != null) {
      control.ready();
    }
    Thread.currentThread().join();
  }

  private static String env(String name, String fallback) {
    String value = System.getenv(name);
    return value == null || value.isEmpty() ? fallback : value;
  }

  private static java.util.concurrent.ThreadFactory named(String prefix) {
    return runnable -> {
      Thread thread = new Thread(runnable, prefix);
      thread.setDaemon(true);
      return thread;
    };
  }

  /** The supervisor holds stdin open; when it goes, however it goes, the instance goes too. */
  private static void exitWhenStdinCloses() {
    Thread watcher = new Thread(() -> {
      try {
        while (System.in.read() >= 0) {
          // Nobody writes to stdin.
        }
      } catch (IOException e) {
        // Closed either way.
      }
      Runtime.getRuntime().halt(0);
    }, "runlet-stdin");
    watcher.setDaemon(true);
    watcher.start();
  }

  /** Requests without X-Call-Id may reach the control paths; the rest are calls. */
  private Exchange.Answer route(Exchange.Request request) {
    if (request.header("x-call-id") == null) {
      if (request.target().equals("/healthz")) {
        return json(200, Map.of("status", "ok", "specialized", invoker != null));
      }
      if (request.target().equals("/v2/specialize") && request.method().equals("POST")) {
        return specialize(request.body());
      }
    }
    return call(request);
  }

  private Exchange.Answer call(Exchange.Request request) {
    Invoker current = invoker;
    if (current == null) {
      return error(503, "RUNLET_NOT_SPECIALIZED", "no function is loaded in this instance yet", null, 0);
    }
    return current.invoke(request);
  }

  private Exchange.Answer specialize(byte[] body) {
    synchronized (lock) {
      if (invoker != null || specializing) {
        return error(409, "RUNLET_ALREADY_SPECIALIZED", "this instance already serves a function", null, 0);
      }
      specializing = true;
    }
    long started = System.nanoTime();
    try {
      Map<?, ?> request = (Map<?, ?>) Json.parse(new String(body, StandardCharsets.UTF_8));
      if (request.get("env") instanceof Map<?, ?> vars) {
        setEnvironment(vars);
      }
      String packagePath = String.valueOf(request.get("packagePath"));
      Object handler = request.get("handler");
      Object compat = request.get("compat");
      long timeoutMs = request.get("timeoutMs") instanceof Number number ? number.longValue() : 0;
      FunctionLoader.Target target = new FunctionLoader.Target(
          compat == null ? null : compat.toString(), String.valueOf(request.get("name")), timeoutMs);
      FunctionLoader.Loaded loaded = FunctionLoader.load(
          Path.of(packagePath), handler == null ? "Handler" : handler.toString(), target);
      Thread.currentThread().setContextClassLoader(loaded.loader());
      Object secretsDir = request.get("secretsDir");
      invoker = new Invoker(
          loaded.function(),
          String.valueOf(request.get("name")),
          String.valueOf(request.get("revision")),
          secretsDir == null ? null : secretsDir.toString());
      Map<String, Object> ready = new LinkedHashMap<>();
      ready.put("status", "ready");
      ready.put("loadMs", (System.nanoTime() - started) / 1_000_000);
      return json(200, ready);
    } catch (LoadError e) {
      return error(422, e.code, e.getMessage(), e.file, e.line);
    } catch (RuntimeException e) {
      return error(500, "RUNLET_INTERNAL", "specialize failed: " + e, null, 0);
    } finally {
      synchronized (lock) {
        specializing = false;
      }
    }
  }

  /**
   * The function's env must be in System.getenv() from the start, as in every runtime; the JDK
   * has no API to change it, so the map behind it is filled (java.util is opened to this
   * module for that, on the JVM's command line).
   */
  @SuppressWarnings("unchecked")
  private static void setEnvironment(Map<?, ?> vars) {
    try {
      Map<String, String> env = System.getenv();
      Field inner = env.getClass().getDeclaredField("m");
      inner.setAccessible(true);
      Map<String, String> writable = (Map<String, String>) inner.get(env);
      vars.forEach((k, v) -> writable.put(String.valueOf(k), String.valueOf(v)));
    } catch (ReflectiveOperationException | RuntimeException e) {
      System.err.println("runlet: the function's environment could not be set: " + e);
    }
  }

  /**
   * A pooled instance exercises its own call path before it is needed, so the first calls of
   * the function it becomes run compiled code rather than loading classes.
   */
  private static void warmUp() {
    Function echo = (event, context) -> Map.of("path", event.path(), "n", event.query("n"), "ok", true);
    Invoker warm = new Invoker(echo, "warmup", "0", null);
    Map<String, List<String>> headers = Map.of("x-call-id", List.of("warmup"), "content-type", List.of("application/json"));
    for (int i = 0; i < 2000; i++) {
      warm.invoke(new Exchange.Request("POST", "/warm?n=" + i, headers, "{\"a\":[1,2,3]}".getBytes(StandardCharsets.UTF_8)));
      Json.parse("{\"method\":\"GET\",\"path\":\"/x?y=1\",\"headers\":{\"x-call-id\":\"a\",\"accept\":[\"a\",\"b\"]}}");
    }
  }

  private static Exchange.Answer json(int status, Object body) {
    Map<String, List<String>> headers = new LinkedHashMap<>();
    headers.put("content-type", List.of("application/json"));
    return new Exchange.Answer(status, headers, Json.write(body).getBytes(StandardCharsets.UTF_8));
  }

  private static Exchange.Answer error(int status, String code, String message, String file, int line) {
    Map<String, Object> error = new LinkedHashMap<>();
    error.put("code", code);
    error.put("message", message);
    if (file != null) {
      error.put("file", file);
      error.put("line", line);
    }
    return json(status, Map.of("error", error));
  }
}
