package org.springframework.http;

/** Compile-time name only, for io.fission.Function's signature; never packaged or loaded. */
public class ResponseEntity<T> {}
