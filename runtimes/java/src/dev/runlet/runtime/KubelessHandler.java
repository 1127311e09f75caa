package dev.runlet.runtime;

import dev.runlet.Context;
import dev.runlet.Event;
import dev.runlet.Function;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.List;

/**
 * A Kubeless Java function: `String method(io.kubeless.Event, io.kubeless.Context)` of a class
 * in package io.kubeless, named by the handler `Class.method` as Kubeless names it.
 */
final class KubelessHandler implements Function {
  private final Object instance;
  private final Method method;
  private final FunctionLoader.Target target;

  record Entry(String className, String method) {}

  KubelessHandler(Object instance, Method method, FunctionLoader.Target target) {
    this.instance = instance;
    this.method = method;
    this.target = target;
  }

  static Entry entry(String handler) throws LoadError {
    String text = handler == null ? "" : handler.trim();
    int dot = text.lastIndexOf('.');
    if (dot <= 0 || dot == text.length() - 1) {
      throw new LoadError(
          "RUNLET_HANDLER_NOT_FOUND",
          "a Kubeless Java handler is Class.method (e.g. Foo.foo), not " + (text.isEmpty() ? "empty" : "\"" + text + "\""));
    }
    return new Entry(text.substring(0, dot), text.substring(dot + 1));
  }

  /** Kubeless prefixes the class with io.kubeless; a name with a package of its own is tried as is. */
  static List<String> candidates(String className) {
    return className.contains(".") ? List.of(className) : List.of("io.kubeless." + className, className);
  }

  static Method method(Class<?> type, String name) throws LoadError {
    try {
      Method found = type.getMethod(name, io.kubeless.Event.class, io.kubeless.Context.class);
      if (Modifier.isStatic(found.getModifiers())) {
        found.setAccessible(true);
      }
      return found;
    } catch (NoSuchMethodException e) {
      throw new LoadError(
          "RUNLET_HANDLER_NO_EXPORT",
          "class " + type.getName() + " has no public method " + name + "(io.kubeless.Event, io.kubeless.Context)");
    }
  }

  @Override
  public Object handle(Event event, Context context) throws Exception {
    String contentType = event.header("content-type");
    io.kubeless.Event kubelessEvent = new io.kubeless.Event(
        event.bodyText(),
        or(event.header("event-id"), context.callId()),
        or(event.header("event-type"), contentType == null ? "" : contentType),
        or(event.header("event-time"), ""),
        or(event.header("event-namespace"), ""));
    String timeout = System.getenv("FUNC_TIMEOUT");
    if (timeout == null || timeout.isEmpty()) {
      timeout = target.timeoutMs() > 0 ? String.valueOf(target.timeoutMs() / 1000) : "180";
    }
    String runtime = System.getenv("FUNC_RUNTIME");
    String memory = System.getenv("FUNC_MEMORY_LIMIT");
    io.kubeless.Context kubelessContext = new io.kubeless.Context(
        target.name(),
        timeout,
        runtime == null || runtime.isEmpty() ? "java" : runtime,
        memory == null ? "" : memory);
    try {
      Object result = method.invoke(Modifier.isStatic(method.getModifiers()) ? null : instance, kubelessEvent, kubelessContext);
      // Kubeless sends what the method returns as the body, with no content type of its own.
      return result == null ? "" : result.toString();
    } catch (InvocationTargetException e) {
      Throwable cause = e.getCause();
      if (cause instanceof Exception exception) {
        throw exception;
      }
      throw e;
    }
  }

  private static String or(String value, String fallback) {
    return value == null || value.isEmpty() ? fallback : value;
  }
}
