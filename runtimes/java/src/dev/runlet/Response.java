package dev.runlet;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An answer with its status and headers. The body is encoded as a returned body alone would be
 * (text, bytes, JSON for maps and lists); a Content-Type set here wins.
 */
public final class Response {
  private int status = 200;
  private final Map<String, List<String>> headers = new LinkedHashMap<>();
  private Object body;

  public static Response status(int status) {
    return new Response().withStatus(status);
  }

  public static Response ok(Object body) {
    return new Response().withBody(body);
  }

  public Response withStatus(int status) {
    this.status = status;
    return this;
  }

  /** Adds a header value; a second value of the same name is sent as a second header. */
  public Response withHeader(String name, String value) {
    headers.computeIfAbsent(name, key -> new ArrayList<>()).add(value);
    return this;
  }

  public Response withBody(Object body) {
    this.body = body;
    return this;
  }

  public int status() {
    return status;
  }

  public Map<String, List<String>> headers() {
    return headers;
  }

  public Object body() {
    return body;
  }
}
