package dev.runlet.runtime;

import java.util.List;
import java.util.Map;

/** One call as the transports hand it over, and its answer. */
final class Exchange {
  private Exchange() {}

  /** target is the path with its query; header names are lower-case. */
  record Request(String method, String target, Map<String, List<String>> headers, byte[] body) {
    String header(String name) {
      List<String> values = headers.get(name);
      return values == null || values.isEmpty() ? null : values.get(0);
    }
  }

  record Answer(int status, Map<String, List<String>> headers, byte[] body) {}
}
