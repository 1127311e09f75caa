package com.openfaas.model;

import java.util.Map;

/** A call as the OpenFaaS Java templates hand it to a handler. */
public interface IRequest {
  /** The body as UTF-8 text ("" when there is none). */
  String getBody();

  byte[] getBodyBytes();

  /** Header names as the templates' server spells them ("Content-type"); looked up in any case. */
  Map<String, String> getHeaders();

  String getHeader(String key);

  /** The query string without "?", or null. */
  String getQueryRaw();

  Map<String, String> getQuery();

  /** The path inside the function, e.g. "/a/b". */
  String getPathRaw();

  /** The path read as key/value pairs: "/user/7/tab" gives user=7, tab="". */
  Map<String, String> getPath();
}
