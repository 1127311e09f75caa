package io.fission;

/** What Fission's JVM environment passes beside the request (it holds nothing there either). */
public interface Context {}
