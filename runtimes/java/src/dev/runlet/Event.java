package dev.runlet;

import java.util.List;
import java.util.Map;

/** The request a call carries, as the caller sent it. */
public interface Event {
  /** "GET", "POST", ... */
  String method();

  /** The path inside the function: /function/hello/a/b is "/a/b". */
  String path();

  /** Query parameters; a repeated key has several values, in order. */
  Map<String, List<String>> query();

  /** The first value of a query parameter, or null. */
  String query(String name);

  /** Request headers with lower-case names; repeated headers joined with ", ". */
  Map<String, String> headers();

  /** A header by name in any case, or null. */
  String header(String name);

  /** The body's bytes; empty, never null, when there is none. */
  byte[] body();

  /** The body as UTF-8 text. */
  String bodyText();

  /** Route parameters of an HTTP trigger (GET /hello/{who} gives "who"). */
  Map<String, String> params();
}
