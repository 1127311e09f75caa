package com.openfaas.model;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/** The templates' request: built by the runtime for each call, or by a function's own tests. */
public class Request implements IRequest {
  private final byte[] body;
  private final Map<String, String> headers;
  private final String queryRaw;
  private final String pathRaw;
  private final Map<String, String> query;
  private final Map<String, String> path;

  public Request(String body, Map<String, String> headers) {
    this(body, headers, null, null);
  }

  public Request(byte[] body, Map<String, String> headers) {
    this(body, headers, null, null);
  }

  public Request(String body, Map<String, String> headers, String queryRaw, String path) {
    this(body == null ? null : body.getBytes(StandardCharsets.UTF_8), headers, queryRaw, path);
  }

  public Request(byte[] body, Map<String, String> headers, String queryRaw, String path) {
    this.body = body == null ? new byte[0] : body;
    // Case-insensitive, as HTTP header names are; the keys keep the spelling they came with.
    Map<String, String> names = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
    if (headers != null) {
      names.putAll(headers);
    }
    this.headers = names;
    this.queryRaw = queryRaw;
    this.pathRaw = path;
    this.query = parseQuery(queryRaw);
    this.path = parsePath(path);
  }

  @Override
  public String getBody() {
    return new String(body, StandardCharsets.UTF_8);
  }

  @Override
  public byte[] getBodyBytes() {
    return body;
  }

  @Override
  public Map<String, String> getHeaders() {
    return headers;
  }

  @Override
  public String getHeader(String key) {
    return key == null ? null : headers.get(key);
  }

  @Override
  public String getQueryRaw() {
    return queryRaw;
  }

  @Override
  public Map<String, String> getQuery() {
    return query;
  }

  @Override
  public String getPathRaw() {
    return pathRaw;
  }

  @Override
  public Map<String, String> getPath() {
    return path;
  }

  private static Map<String, String> parseQuery(String raw) {
    Map<String, String> values = new HashMap<>();
    if (raw == null || raw.isEmpty()) {
      return values;
    }
    for (String pair : raw.split("&")) {
      if (pair.isEmpty()) {
        continue;
      }
      int eq = pair.indexOf('=');
      String key = decode(eq < 0 ? pair : pair.substring(0, eq));
      values.put(key, eq < 0 ? null : decode(pair.substring(eq + 1)));
    }
    return values;
  }

  /** Segments taken two by two as key and value; an odd last key has the value "". */
  private static Map<String, String> parsePath(String raw) {
    Map<String, String> values = new HashMap<>();
    if (raw == null || raw.length() <= 1) {
      return values;
    }
    String[] segments = raw.substring(1).split("/");
    for (int i = 0; i < segments.length; i += 2) {
      if (segments[i].isEmpty()) {
        continue;
      }
      values.put(segments[i], i + 1 < segments.length ? segments[i + 1] : "");
    }
    return Collections.unmodifiableMap(values);
  }

  private static String decode(String text) {
    try {
      return URLDecoder.decode(text, StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      return text;
    }
  }
}
