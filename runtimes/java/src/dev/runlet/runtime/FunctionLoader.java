package dev.runlet.runtime;

import com.openfaas.model.IHandler;
import dev.runlet.Function;
import java.io.File;
import java.io.IOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Loads a function's compiled classes (.runlet/java/classes and the jars in .runlet/java/lib,
 * as the Java build leaves them) in a class loader of its own, whose parent holds only the JDK
 * and the Runlet API, and makes one instance of the handler class.
 */
final class FunctionLoader {
  /** Where the build puts the function's classes and its dependencies inside the package. */
  static final String CLASSES = ".runlet/java/classes";
  static final String LIB = ".runlet/java/lib";

  private FunctionLoader() {}

  record Loaded(Function function, ClassLoader loader) {}

  /** What the spec says about the function beyond its handler: its shape and its limits. */
  record Target(String compat, String name, long timeoutMs) {
    static final Target PLAIN = new Target(null, "function", 0);
  }

  static Loaded load(Path packageDir, String handler) throws LoadError {
    return load(packageDir, handler, Target.PLAIN);
  }

  static Loaded load(Path packageDir, String handler, Target target) throws LoadError {
    Path classes = packageDir.resolve(CLASSES);
    if (!Files.isDirectory(classes)) {
      throw new LoadError(
          "RUNLET_HANDLER_NOT_FOUND",
          "the package has no compiled classes (" + CLASSES + "); deploy the source with runtime java so it is built");
    }
    URL[] urls = urls(packageDir, classes);
    ClassLoader parent = FunctionLoader.class.getClassLoader();
    if (FaasJavaTemplateHandler.SPRINGBOOT.equals(target.compat())) {
      SpringBootPool.Split split = SpringBootPool.split(urls);
      if (split != null) {
        // The pool's Spring Boot (and the runner beside it), warmed before this function came.
        parent = split.parent();
        urls = split.urls();
      } else {
        urls = withRunner(urls, FaasJavaTemplateHandler.springBootRunner());
      }
    }
    URLClassLoader loader = new URLClassLoader("function", urls, parent);
    if (FaasJavaTemplateHandler.isTemplate(target.compat())) {
      String className = className(handler);
      Class<?> type = findClass(className, loader, List.of(className));
      if (FaasJavaTemplateHandler.VERTX.equals(target.compat())) {
        // Made per request, as the template's verticle does; made once here so its failures fail the deploy.
        construct(type, loader);
      }
      return new Loaded(FaasJavaTemplateHandler.load(target.compat(), type, loader), loader);
    }
    if ("kubeless".equals(target.compat())) {
      KubelessHandler.Entry entry = KubelessHandler.entry(handler);
      Class<?> type = findClass(entry.className(), loader, KubelessHandler.candidates(entry.className()));
      Method method = KubelessHandler.method(type, entry.method());
      return new Loaded(new KubelessHandler(construct(type, loader), method, target), loader);
    }
    String className = "openfaas".equals(target.compat())
        ? OpenFaasHandler.serviceClass(classes).orElse(className(handler))
        : className(handler);
    Class<?> type = findClass(className, loader, List.of(className));
    if (Function.class.isAssignableFrom(type)) {
      return new Loaded((Function) construct(type, loader), loader);
    }
    if (IHandler.class.isAssignableFrom(type)) {
      return new Loaded(new OpenFaasHandler((IHandler) construct(type, loader)), loader);
    }
    if (FissionHandler.isFission(type)) {
      return new Loaded(new FissionHandler(construct(type, loader), loader), loader);
    }
    throw new LoadError(
        "RUNLET_HANDLER_NO_EXPORT",
        "class " + className + " implements none of dev.runlet.Function, com.openfaas.model.IHandler, io.fission.Function"
            + (target.compat() == null ? "" : " (compat " + target.compat() + ")"));
  }

  /** The first of `candidates` the function's classes have, without initializing it yet. */
  private static Class<?> findClass(String name, ClassLoader loader, List<String> candidates) throws LoadError {
    for (String candidate : candidates) {
      try {
        return Class.forName(candidate, false, loader);
      } catch (ClassNotFoundException e) {
        // Try the next spelling.
      } catch (LinkageError e) {
        throw new LoadError("RUNLET_HANDLER_LOAD_FAILED", candidate + ": " + e, null, 0, e);
      }
    }
    throw new LoadError(
        "RUNLET_HANDLER_NOT_FOUND",
        "class " + String.join(" or ", candidates) + " is not in the function's classes");
  }

  /** One instance, made with the constructor without parameters; its failures name a source line. */
  private static Object construct(Class<?> type, ClassLoader loader) throws LoadError {
    String className = type.getName();
    try {
      Class.forName(className, true, loader);
      Constructor<?> constructor = type.getDeclaredConstructor();
      constructor.setAccessible(true);
      return constructor.newInstance();
    } catch (NoSuchMethodException e) {
      throw new LoadError("RUNLET_HANDLER_NO_EXPORT", "class " + className + " has no constructor without parameters");
    } catch (InvocationTargetException | ExceptionInInitializerError e) {
      Throwable cause = e.getCause() == null ? e : e.getCause();
      StackTraceElement where = firstFunctionFrame(cause, loader);
      throw new LoadError(
          "RUNLET_HANDLER_LOAD_FAILED",
          (where == null ? "" : where.getFileName() + ":" + where.getLineNumber() + ": ") + cause,
          where == null ? null : where.getFileName(),
          where == null ? 0 : where.getLineNumber(),
          cause);
    } catch (ReflectiveOperationException | LinkageError e) {
      throw new LoadError("RUNLET_HANDLER_LOAD_FAILED", className + ": " + e, null, 0, e);
    }
  }

  /** "Handler", "com.example.Handler", or a source path such as src/main/java/com/example/Handler.java. */
  static String className(String handler) {
    String name = handler.trim();
    if (name.endsWith(".java")) {
      name = name.substring(0, name.length() - ".java".length());
      for (String root : List.of("src/main/java/", "src/")) {
        if (name.startsWith(root)) {
          name = name.substring(root.length());
          break;
        }
      }
      name = name.replace('/', '.');
    }
    return name.isEmpty() ? "Handler" : name;
  }

  private static URL[] withRunner(URL[] urls, Path runner) throws LoadError {
    URL[] all = java.util.Arrays.copyOf(urls, urls.length + 1);
    try {
      all[urls.length] = runner.toUri().toURL();
    } catch (MalformedURLException e) {
      throw new LoadError("RUNLET_HANDLER_LOAD_FAILED", "bad class path: " + e.getMessage());
    }
    return all;
  }

  private static URL[] urls(Path packageDir, Path classes) throws LoadError {
    List<URL> urls = new ArrayList<>();
    try {
      urls.add(classes.toUri().toURL());
      Path lib = packageDir.resolve(LIB);
      if (Files.isDirectory(lib)) {
        try (Stream<Path> jars = Files.list(lib)) {
          for (Path jar : jars.filter(p -> p.toString().endsWith(".jar")).sorted().toList()) {
            urls.add(jar.toUri().toURL());
          }
        }
      }
    } catch (MalformedURLException e) {
      throw new LoadError("RUNLET_HANDLER_LOAD_FAILED", "bad class path: " + e.getMessage());
    } catch (IOException e) {
      throw new LoadError("RUNLET_HANDLER_LOAD_FAILED", "cannot list " + LIB + File.separator + ": " + e.getMessage());
    }
    return urls.toArray(URL[]::new);
  }

  /** The innermost frame of the function's own code, to name its file and line. */
  static StackTraceElement firstFunctionFrame(Throwable error, ClassLoader loader) {
    for (Throwable t = error; t != null; t = t.getCause()) {
      for (StackTraceElement frame : t.getStackTrace()) {
        if ("function".equals(frame.getClassLoaderName()) && frame.getFileName() != null) {
          return frame;
        }
      }
    }
    return null;
  }
}
