package dev.runlet.runtime;

import java.io.IOException;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Spring Boot in the warm pool. Once a springboot function has been built on this machine, the
 * platform keeps its own resolution of Spring Boot beside the runtime (springboot-lib/, never a
 * function's jars: every function's instance may come from this pool); a pooled JVM
 * loads them in a class loader of their own and starts and closes an empty application, so a
 * springboot function it becomes starts its application with the classes loaded and the code
 * compiled. The function's class loader then delegates to that loader for those jars (only when
 * its own libraries hold every one of them, by file name, so its Spring is the same).
 */
final class SpringBootPool {
  static final String LIB = "springboot-lib";

  private static volatile URLClassLoader shared;
  private static volatile Set<String> sharedJars = Set.of();

  private SpringBootPool() {}

  /** Warms Spring Boot when the platform has its jars; a failure leaves the pool as it was. */
  static void warm() {
    try {
      Path runner = FaasJavaTemplateHandler.springBootRunner();
      Path lib = runner.resolveSibling(LIB);
      if (!Files.isDirectory(lib)) {
        return;
      }
      List<Path> jars;
      try (Stream<Path> listed = Files.list(lib)) {
        jars = listed.filter(p -> p.toString().endsWith(".jar")).sorted().toList();
      }
      List<URL> urls = new ArrayList<>();
      for (Path jar : jars) {
        urls.add(jar.toUri().toURL());
      }
      urls.add(runner.toUri().toURL());
      URLClassLoader loader = new URLClassLoader("springboot", urls.toArray(URL[]::new), SpringBootPool.class.getClassLoader());
      Thread thread = Thread.currentThread();
      ClassLoader previous = thread.getContextClassLoader();
      thread.setContextClassLoader(loader);
      try {
        Class.forName("dev.runlet.springboot.FunctionApplication", true, loader).getMethod("warm").invoke(null);
      } finally {
        thread.setContextClassLoader(previous);
      }
      sharedJars = jars.stream().map(p -> p.getFileName().toString()).collect(Collectors.toUnmodifiableSet());
      shared = loader;
    } catch (LoadError | IOException | ReflectiveOperationException | LinkageError | RuntimeException e) {
      System.err.println("runlet: Spring Boot was not warmed in the pool: " + e);
    }
  }

  /** The loader a springboot function's classes delegate to, and its own URLs without those jars. */
  record Split(ClassLoader parent, URL[] urls) {}

  /** Null when the pool has no Spring Boot or the function's differs. */
  static Split split(URL[] functionUrls) {
    URLClassLoader loader = shared;
    if (loader == null) {
      return null;
    }
    List<URL> own = new ArrayList<>();
    Set<String> found = new java.util.HashSet<>();
    for (URL url : functionUrls) {
      String name = url.getPath().substring(url.getPath().lastIndexOf('/') + 1);
      if (sharedJars.contains(name)) {
        found.add(name);
      } else {
        own.add(url);
      }
    }
    if (!found.containsAll(sharedJars)) {
      return null;
    }
    return new Split(loader, own.toArray(URL[]::new));
  }
}
