package dev.runlet.springboot;

import java.lang.reflect.Constructor;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;

/**
 * Runlet's runner for functions of the springboot template (tmobile faas-java-templates): a
 * Spring Boot application whose one bean of the function's is its Handler, as the template's
 * runner makes it. It is started once per instance, without a web server of its own: the
 * Java runtime server takes the calls and hands each body to the bean.
 *
 * Loaded in the function's class loader, next to the Spring Boot jars the build resolved;
 * compiled against names of Spring's types only (runtimes/java/springboot-stubs).
 */
@SpringBootApplication(proxyBeanMethods = false)
public class FunctionApplication {
  /** The function's handler class; one function per instance, set before Spring starts. */
  private static volatile Class<?> handlerType;

  @Bean
  public Object functionHandler() throws ReflectiveOperationException {
    Constructor<?> constructor = handlerType.getDeclaredConstructor();
    constructor.setAccessible(true);
    return constructor.newInstance();
  }

  /** Starts Spring Boot (its environment, application.yml, logging, auto-configuration) and returns the handler bean. */
  public static Object start(Class<?> type) {
    return run(type).getBean("functionHandler");
  }

  /**
   * Starts and closes an application with no function in it: a pooled JVM does this before it
   * is needed, so the function's own start finds Spring's classes loaded and its code compiled.
   */
  public static void warm() {
    run(Object.class).close();
  }

  private static ConfigurableApplicationContext run(Class<?> type) {
    handlerType = type;
    SpringApplication application = new SpringApplication(FunctionApplication.class);
    application.setWebApplicationType(WebApplicationType.NONE);
    return application.run();
  }
}
