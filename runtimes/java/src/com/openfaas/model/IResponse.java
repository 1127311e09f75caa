package com.openfaas.model;

import java.util.Map;

/** What an OpenFaaS Java handler answers. */
public interface IResponse {
  String getBody();

  void setBody(String body);

  byte[] getBodyBytes();

  void setBodyBytes(byte[] body);

  String getHeader(String key);

  void setHeader(String key, String value);

  Map<String, String> getHeaders();

  void setContentType(String contentType);

  String getContentType();

  void setStatusCode(int code);

  int getStatusCode();
}
