package dev.runlet.runtime;

import dev.runlet.Context;
import dev.runlet.Event;
import dev.runlet.Function;
import dev.runlet.Response;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.function.BiConsumer;

/**
 * A function of Fission's JVM environment (io.fission.Function): `ResponseEntity call(
 * RequestEntity, Context)` with Spring's classes. Those are the function's own (its pom names
 * spring-web, scope provided as Fission's poms do, and the build keeps them), and so is
 * io.fission.Function (Runlet's, from the function's lib), so this works through reflection
 * in the function's class loader; the server has no Spring of its own.
 */
final class FissionHandler implements Function {
  static final String FUNCTION = "io.fission.Function";

  private final Object instance;
  private final Method call;
  private final ClassLoader loader;
  private final Object context;
  private final Class<?> requestEntity;
  private final Class<?> responseEntity;
  private final Class<?> httpHeaders;
  private final Class<?> multiValueMap;
  private final Method httpMethodOf;
  private final Object objectMapper;

  /** Whether `type` is a Fission function: it implements io.fission.Function. */
  static boolean isFission(Class<?> type) {
    for (Class<?> t = type; t != null; t = t.getSuperclass()) {
      for (Class<?> i : t.getInterfaces()) {
        if (i.getName().equals(FUNCTION)) {
          return true;
        }
      }
    }
    return false;
  }

  FissionHandler(Object instance, ClassLoader loader) throws LoadError {
    this.instance = instance;
    this.loader = loader;
    try {
      Class<?> contextType = Class.forName("io.fission.Context", false, loader);
      requestEntity = Class.forName("org.springframework.http.RequestEntity", true, loader);
      responseEntity = Class.forName("org.springframework.http.ResponseEntity", true, loader);
      httpHeaders = Class.forName("org.springframework.http.HttpHeaders", true, loader);
      multiValueMap = Class.forName("org.springframework.util.MultiValueMap", true, loader);
      httpMethodOf = Class.forName("org.springframework.http.HttpMethod", true, loader).getMethod("valueOf", String.class);
      call = instance.getClass().getMethod("call", requestEntity, contextType);
      call.setAccessible(true);
      InvocationHandler nothing = (proxy, method, args) -> method.getName().equals("toString") ? "io.fission.Context" : null;
      context = Proxy.newProxyInstance(loader, new Class<?>[] {contextType}, nothing);
    } catch (ClassNotFoundException | NoClassDefFoundError e) {
      throw new LoadError(
          "RUNLET_HANDLER_LOAD_FAILED",
          "a Fission function needs Spring's org.springframework.http classes: name spring-web (or spring-boot-starter-web) in its pom.xml, scope provided as Fission's examples do (" + e.getMessage() + " is missing)");
    } catch (NoSuchMethodException e) {
      throw new LoadError(
          "RUNLET_HANDLER_NO_EXPORT",
          "class " + instance.getClass().getName() + " has no method call(RequestEntity, io.fission.Context)");
    }
    objectMapper = jackson(loader);
  }

  /** Spring answers objects as JSON with Jackson; the function's own, when it has one. */
  private static Object jackson(ClassLoader loader) {
    try {
      return Class.forName("com.fasterxml.jackson.databind.ObjectMapper", true, loader).getConstructor().newInstance();
    } catch (ReflectiveOperationException | LinkageError e) {
      return null;
    }
  }

  @Override
  public Object handle(Event event, Context runletContext) throws Exception {
    ClassLoader previous = Thread.currentThread().getContextClassLoader();
    Thread.currentThread().setContextClassLoader(loader);
    try {
      Object headers = httpHeaders.getConstructor().newInstance();
      Method add = httpHeaders.getMethod("add", String.class, String.class);
      for (var header : event.headers().entrySet()) {
        add.invoke(headers, header.getKey(), header.getValue());
      }
      String rawQuery = event instanceof Invoker.CallEvent callEvent ? callEvent.rawQuery() : null;
      URI uri = URI.create("http://localhost" + event.path() + (rawQuery == null ? "" : "?" + rawQuery));
      Object body = event.body().length == 0 ? null : event.bodyText();
      Object request = requestEntity
          .getConstructor(Object.class, multiValueMap, httpMethodOf.getDeclaringClass(), URI.class)
          .newInstance(body, headers, httpMethodOf.invoke(null, event.method()), uri);
      Object answer = call.invoke(instance, request, context);
      return answer == null ? Response.status(200).withBody(new byte[0]) : response(answer);
    } catch (InvocationTargetException e) {
      if (e.getCause() instanceof Exception cause) {
        throw cause;
      }
      throw e;
    } finally {
      Thread.currentThread().setContextClassLoader(previous);
    }
  }

  /** Through Spring's public types: what they return may be of a class that is not public. */
  private Response response(Object entity) throws ReflectiveOperationException {
    Method getStatusCode = responseEntity.getMethod("getStatusCode");
    Object status = getStatusCode.invoke(entity);
    int code = ((Number) getStatusCode.getReturnType().getMethod("value").invoke(status)).intValue();
    Response response = Response.status(code);
    Object headers = responseEntity.getMethod("getHeaders").invoke(entity);
    boolean[] typed = {false};
    BiConsumer<String, List<String>> each = (name, values) -> {
      typed[0] |= name.equalsIgnoreCase("content-type");
      values.forEach(value -> response.withHeader(name, value));
    };
    httpHeaders.getMethod("forEach", BiConsumer.class).invoke(headers, each);
    Object body = responseEntity.getMethod("getBody").invoke(entity);
    if (body == null || body instanceof byte[]) {
      return response.withBody(body == null ? new byte[0] : body);
    }
    if (body instanceof CharSequence text) {
      if (!typed[0]) {
        // Spring's string converter.
        response.withHeader("Content-Type", "text/plain;charset=UTF-8");
      }
      return response.withBody(text.toString().getBytes(StandardCharsets.UTF_8));
    }
    if (!typed[0]) {
      response.withHeader("Content-Type", "application/json");
    }
    if (objectMapper != null) {
      return response.withBody(objectMapper.getClass().getMethod("writeValueAsBytes", Object.class).invoke(objectMapper, body));
    }
    return response.withBody(Json.write(body).getBytes(StandardCharsets.UTF_8));
  }
}
