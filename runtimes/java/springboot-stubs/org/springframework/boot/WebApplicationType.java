package org.springframework.boot;

/** Compile-time name only; never packaged or loaded. */
public enum WebApplicationType {
  NONE,
  SERVLET,
  REACTIVE
}
