package dev.runlet.runtime;

import dev.runlet.Function;
import java.io.File;
import java.io.IOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
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

  static Loaded load(Path packageDir, String handler) throws LoadError {
    String className = className(handler);
    Path classes = packageDir.resolve(CLASSES);
    if (!Files.isDirectory(classes)) {
      throw new LoadError(
          "RUNLET_HANDLER_NOT_FOUND",
          "the package has no compiled classes (" + CLASSES + "); deploy the source with runtime java so it is built");
    }
    URLClassLoader loader = new URLClassLoader("function", urls(packageDir, classes), FunctionLoader.class.getClassLoader());
    Class<?> type;
    try {
      type = Class.forName(className, false, loader);
    } catch (ClassNotFoundException e) {
      throw new LoadError("RUNLET_HANDLER_NOT_FOUND", "class " + className + " is not in the function's classes");
    } catch (LinkageError e) {
      throw new LoadError("RUNLET_HANDLER_LOAD_FAILED", className + ": " + e, null, 0, e);
    }
    if (!Function.class.isAssignableFrom(type)) {
      throw new LoadError(
          "RUNLET_HANDLER_NO_EXPORT",
          "class " + className + " does not implement dev.runlet.Function");
    }
    try {
      Class.forName(className, true, loader);
      Constructor<?> constructor = type.getDeclaredConstructor();
      constructor.setAccessible(true);
      return new Loaded((Function) constructor.newInstance(), loader);
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
