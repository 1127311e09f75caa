package org.springframework.context;

/** Compile-time name only; never packaged or loaded. */
public interface ConfigurableApplicationContext {
  Object getBean(String name);

  void close();
}
