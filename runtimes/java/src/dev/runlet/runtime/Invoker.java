package dev.runlet.runtime;

import dev.runlet.Context;
import dev.runlet.Event;
import dev.runlet.Function;
import dev.runlet.Response;
import java.io.IOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Turns a request into the handler's Event and Context, and what it returns into an answer. */
final class Invoker {
  private final Function function;
  private final String name;
  private final String revision;
  private final String secretsDir;

  Invoker(Function function, String name, String revision, String secretsDir) {
    this.function = function;
    this.name = name;
    this.revision = revision;
    this.secretsDir = secretsDir;
  }

  Exchange.Answer invoke(Exchange.Request request) {
    String callId = request.header("x-call-id");
    CallLog.CURRENT_CALL.set(callId);
    try {
      Object result = function.handle(event(request), context(request, callId));
      return answer(result);
    } catch (Throwable error) {
      // The stack goes to the function's logs with the call id; the caller gets the message.
      error.printStackTrace();
      Map<String, Object> body = Map.of(
          "error", Map.of("code", "RUNLET_HANDLER_ERROR", "message", String.valueOf(error)));
      Map<String, List<String>> headers = new LinkedHashMap<>();
      headers.put("content-type", List.of("application/json"));
      headers.put("x-runlet-error", List.of("handler"));
      return new Exchange.Answer(500, headers, Json.write(body).getBytes(StandardCharsets.UTF_8));
    } finally {
      CallLog.CURRENT_CALL.remove();
    }
  }

  static Exchange.Answer answer(Object result) {
    Map<String, List<String>> headers = new LinkedHashMap<>();
    int status = 200;
    Object body = result;
    if (result instanceof Response response) {
      status = response.status();
      for (Map.Entry<String, List<String>> header : response.headers().entrySet()) {
        headers.put(header.getKey().toLowerCase(), List.copyOf(header.getValue()));
      }
      body = response.body();
    }
    byte[] bytes;
    String type;
    if (body == null) {
      if (!(result instanceof Response)) {
        status = 204;
      }
      bytes = new byte[0];
      type = null;
    } else if (body instanceof byte[] raw) {
      bytes = raw;
      type = "application/octet-stream";
    } else if (body instanceof CharSequence text) {
      bytes = text.toString().getBytes(StandardCharsets.UTF_8);
      type = "text/plain; charset=utf-8";
    } else {
      bytes = Json.write(body).getBytes(StandardCharsets.UTF_8);
      type = "application/json";
    }
    if (type != null && !headers.containsKey("content-type")) {
      headers.put("content-type", List.of(type));
    }
    return new Exchange.Answer(status, headers, bytes);
  }

  private static Event event(Exchange.Request request) {
    String target = request.target();
    int mark = target.indexOf('?');
    String path = mark < 0 ? target : target.substring(0, mark);
    Map<String, List<String>> query = new LinkedHashMap<>();
    if (mark >= 0) {
      for (String pair : target.substring(mark + 1).split("&")) {
        if (pair.isEmpty()) {
          continue;
        }
        int eq = pair.indexOf('=');
        String key = decode(eq < 0 ? pair : pair.substring(0, eq));
        String value = eq < 0 ? "" : decode(pair.substring(eq + 1));
        query.computeIfAbsent(key, k -> new ArrayList<>()).add(value);
      }
    }
    Map<String, String> headers = new LinkedHashMap<>();
    for (Map.Entry<String, List<String>> header : request.headers().entrySet()) {
      headers.put(header.getKey(), String.join(", ", header.getValue()));
    }
    Map<String, String> params = new LinkedHashMap<>();
    String rawParams = headers.get("x-runlet-params");
    if (rawParams != null) {
      try {
        if (Json.parse(rawParams) instanceof Map<?, ?> parsed) {
          parsed.forEach((k, v) -> params.put(String.valueOf(k), String.valueOf(v)));
        }
      } catch (IllegalArgumentException e) {
        // Not from the gateway; no parameters.
      }
    }
    return new CallEvent(request.method(), path, mark < 0 ? null : target.substring(mark + 1), query, headers, params, request.body());
  }

  /** The Event handlers get; shape adapters also read the raw query from it. */
  static final class CallEvent implements Event {
    private final String method;
    private final String path;
    private final String rawQuery;
    private final Map<String, List<String>> query;
    private final Map<String, String> headers;
    private final Map<String, String> params;
    private final byte[] body;

    CallEvent(
        String method,
        String path,
        String rawQuery,
        Map<String, List<String>> query,
        Map<String, String> headers,
        Map<String, String> params,
        byte[] body) {
      this.method = method;
      this.path = path;
      this.rawQuery = rawQuery;
      this.query = Collections.unmodifiableMap(query);
      this.headers = Collections.unmodifiableMap(headers);
      this.params = Collections.unmodifiableMap(params);
      this.body = body;
    }

    public String method() {
      return method;
    }

    public String path() {
      return path;
    }

    /** The query string as sent, without "?"; null when there is none. */
    String rawQuery() {
      return rawQuery;
    }

    public Map<String, List<String>> query() {
      return query;
    }

    public String query(String key) {
      List<String> values = query.get(key);
      return values == null ? null : values.get(0);
    }

    public Map<String, String> headers() {
      return headers;
    }

    public String header(String key) {
      return headers.get(key.toLowerCase());
    }

    public byte[] body() {
      return body;
    }

    public String bodyText() {
      return new String(body, StandardCharsets.UTF_8);
    }

    public Map<String, String> params() {
      return params;
    }
  }

  private Context context(Exchange.Request request, String callId) {
    long deadline = parseLong(request.header("x-runlet-deadline"));
    return new Context() {
      public String callId() {
        return callId;
      }

      public String functionName() {
        return name;
      }

      public String revision() {
        return revision;
      }

      public long deadline() {
        return deadline;
      }

      public long remainingMillis() {
        return deadline == 0 ? Long.MAX_VALUE : Math.max(0, deadline - System.currentTimeMillis());
      }

      public boolean cancelled() {
        return deadline != 0 && System.currentTimeMillis() >= deadline;
      }

      public String secret(String secret) {
        if (secretsDir == null || secret.contains("/") || secret.startsWith(".")) {
          return null;
        }
        try {
          return Files.readString(Path.of(secretsDir, secret));
        } catch (IOException e) {
          return null;
        }
      }

      public String secretsDir() {
        return secretsDir;
      }
    };
  }

  private static String decode(String text) {
    try {
      return URLDecoder.decode(text, StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      return text;
    }
  }

  private static long parseLong(String text) {
    try {
      return text == null ? 0 : Long.parseLong(text.trim());
    } catch (NumberFormatException e) {
      return 0;
    }
  }
}
