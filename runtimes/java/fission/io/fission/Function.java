package io.fission;

import org.springframework.http.RequestEntity;
import org.springframework.http.ResponseEntity;

/**
 * A function of Fission's JVM environment: Spring's request in, Spring's response out. Runlet's
 * own interface of that name and shape, installed for builds as io.fission:fission-java-core
 * (scope provided, as Fission's poms name it); Spring's classes are the function's own.
 */
public interface Function<I, O> {
  ResponseEntity<O> call(RequestEntity<I> request, Context context);
}
