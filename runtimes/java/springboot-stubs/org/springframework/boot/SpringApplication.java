package org.springframework.boot;

import org.springframework.context.ConfigurableApplicationContext;

/** Compile-time names only, for dev.runlet.springboot; never packaged or loaded. */
public class SpringApplication {
  public SpringApplication(Class<?>... primarySources) {}

  public void setWebApplicationType(WebApplicationType type) {}

  public ConfigurableApplicationContext run(String... args) {
    return null;
  }
}
