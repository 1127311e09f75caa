package dev.runlet.runtime;

import dev.runlet.Context;
import dev.runlet.Event;
import dev.runlet.Function;
import dev.runlet.Response;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * A function of the tmobile faas-java-templates (lang springboot or vertx): function.Handler
 * implements the template's RequestHandler, `String handle(byte[])` (springboot) or
 * `String Handle(byte[])` (vertx), and the template's runner answers `POST /` with what it
 * returns. The runner is Runlet's: for springboot a Spring Boot application started once per
 * instance whose bean the handler is (dev.runlet.springboot.FunctionApplication); for vertx
 * a new Handler per request, as the template's verticle makes one.
 */
final class FaasJavaTemplateHandler implements Function {
  static final String SPRINGBOOT = "openfaas-springboot";
  static final String VERTX = "openfaas-vertx";

  private final String lang;
  private final Method handle;
  /** The springboot bean; null for vertx, which makes one per request. */
  private final Object bean;
  private final Constructor<?> perRequest;

  private FaasJavaTemplateHandler(String lang, Method handle, Object bean, Constructor<?> perRequest) {
    this.lang = lang;
    this.handle = handle;
    this.bean = bean;
    this.perRequest = perRequest;
  }

  static boolean isTemplate(String compat) {
    return SPRINGBOOT.equals(compat) || VERTX.equals(compat);
  }

  static FaasJavaTemplateHandler load(String compat, Class<?> type, URLClassLoader loader)
      throws LoadError {
    Method method = handleMethod(type, SPRINGBOOT.equals(compat) ? "handle" : "Handle");
    if (VERTX.equals(compat)) {
      try {
        Constructor<?> constructor = type.getDeclaredConstructor();
        constructor.setAccessible(true);
        return new FaasJavaTemplateHandler("vertx", method, null, constructor);
      } catch (NoSuchMethodException e) {
        throw new LoadError("RUNLET_HANDLER_NO_EXPORT", "class " + type.getName() + " has no constructor without parameters");
      }
    }
    return new FaasJavaTemplateHandler("springboot", method, springBean(type, loader), null);
  }

  /** `String handle(byte[])`, else the other template's spelling (`Handle`). */
  private static Method handleMethod(Class<?> type, String name) throws LoadError {
    for (String candidate : new String[] {name, name.equals("handle") ? "Handle" : "handle"}) {
      try {
        Method method = type.getMethod(candidate, byte[].class);
        if (method.getReturnType() == String.class && !Modifier.isStatic(method.getModifiers())) {
          method.setAccessible(true);
          return method;
        }
      } catch (NoSuchMethodException e) {
        // The other spelling.
      }
    }
    throw new LoadError(
        "RUNLET_HANDLER_NO_EXPORT",
        "class " + type.getName() + " has no public String " + name + "(byte[] requestPayload), the template's RequestHandler method");
  }

  /** Starts the function's Spring Boot application once, in the function's class loader. */
  private static Object springBean(Class<?> type, URLClassLoader loader) throws LoadError {
    try {
      Class.forName("org.springframework.boot.SpringApplication", false, loader);
    } catch (ClassNotFoundException e) {
      throw new LoadError(
          "RUNLET_HANDLER_LOAD_FAILED",
          "lang springboot: Spring Boot is not among the function's libraries (" + FunctionLoader.LIB + "); deploy the source so the build adds it");
    }
    Thread thread = Thread.currentThread();
    ClassLoader previous = thread.getContextClassLoader();
    thread.setContextClassLoader(loader);
    try {
      Class<?> application = Class.forName("dev.runlet.springboot.FunctionApplication", true, loader);
      return application.getMethod("start", Class.class).invoke(null, type);
    } catch (InvocationTargetException e) {
      Throwable cause = e.getCause() == null ? e : e.getCause();
      StackTraceElement where = FunctionLoader.firstFunctionFrame(cause, loader);
      throw new LoadError(
          "RUNLET_HANDLER_LOAD_FAILED",
          "Spring Boot did not start: " + (where == null ? "" : where.getFileName() + ":" + where.getLineNumber() + ": ") + rootCause(cause),
          where == null ? null : where.getFileName(),
          where == null ? 0 : where.getLineNumber(),
          cause);
    } catch (ReflectiveOperationException | LinkageError e) {
      throw new LoadError("RUNLET_HANDLER_LOAD_FAILED", "Spring Boot did not start: " + e, null, 0, e);
    } finally {
      thread.setContextClassLoader(previous);
    }
  }

  private static Throwable rootCause(Throwable error) {
    Throwable at = error;
    while (at.getCause() != null && at.getCause() != at) {
      at = at.getCause();
    }
    return at;
  }

  /** The runner's jar, beside the server's own (runtime.jar). */
  static Path springBootRunner() throws LoadError {
    try {
      Path jar = Path.of(Server.class.getProtectionDomain().getCodeSource().getLocation().toURI())
          .resolveSibling("runlet-springboot.jar");
      if (!Files.isRegularFile(jar)) {
        throw new LoadError("RUNLET_HANDLER_LOAD_FAILED", "the runtime's Spring Boot runner is missing: " + jar);
      }
      return jar;
    } catch (java.net.URISyntaxException | SecurityException e) {
      throw new LoadError("RUNLET_HANDLER_LOAD_FAILED", "cannot find the runtime's Spring Boot runner: " + e);
    }
  }

  @Override
  public Object handle(Event event, Context context) throws Exception {
    // The templates' runners map POST / only (Spring's @RequestMapping, Vert.x's route).
    if (!event.path().equals("/") && !event.path().isEmpty()) {
      return error(404, "RUNLET_NOT_FOUND", "the " + lang + " template's function answers POST / only; " + event.path() + " is not routed");
    }
    if (!event.method().equals("POST")) {
      return error(405, "RUNLET_METHOD_NOT_ALLOWED", "the " + lang + " template's function answers POST / only (not " + event.method() + ")")
          .withHeader("Allow", "POST");
    }
    byte[] body = event.body() == null ? new byte[0] : event.body();
    if (bean != null && body.length == 0) {
      // The template's controller takes a required @RequestBody; Spring answers 400 without one.
      return error(400, "RUNLET_INVALID_REQUEST", "the springboot template's function reads the request body; send one (POST / with a body)");
    }
    Object target = bean != null ? bean : perRequest.newInstance();
    String answer;
    try {
      answer = (String) handle.invoke(target, (Object) body);
    } catch (InvocationTargetException e) {
      Throwable cause = e.getCause() == null ? e : e.getCause();
      if (cause instanceof Exception exception) {
        throw exception;
      }
      if (cause instanceof Error fatal) {
        throw fatal;
      }
      throw new IllegalStateException(cause);
    }
    return Response.status(200)
        .withHeader("Content-Type", "text/plain; charset=utf-8")
        .withBody(answer == null ? new byte[0] : answer.getBytes(StandardCharsets.UTF_8));
  }

  private static Response error(int status, String code, String message) {
    return Response.status(status).withBody(Map.of("error", Map.of("code", code, "message", message)));
  }
}
