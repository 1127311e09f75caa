package com.openfaas.model;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/** The templates' response: status 200, no body and no content type until set. */
public class Response implements IResponse {
  private int statusCode = 200;
  private byte[] body;
  private String contentType = "";
  private final Map<String, String> headers = new LinkedHashMap<>();

  public Response() {}

  @Override
  public int getStatusCode() {
    return statusCode;
  }

  @Override
  public void setStatusCode(int statusCode) {
    this.statusCode = statusCode;
  }

  @Override
  public Map<String, String> getHeaders() {
    return headers;
  }

  /** A null value removes the header. */
  @Override
  public void setHeader(String key, String value) {
    if (value == null) {
      headers.remove(key);
    } else {
      headers.put(key, value);
    }
  }

  @Override
  public String getHeader(String key) {
    return headers.get(key);
  }

  @Override
  public void setContentType(String contentType) {
    this.contentType = contentType == null ? "" : contentType;
  }

  @Override
  public String getContentType() {
    return contentType;
  }

  @Override
  public void setBody(String body) {
    this.body = body == null ? null : body.getBytes(StandardCharsets.UTF_8);
  }

  @Override
  public void setBodyBytes(byte[] body) {
    this.body = body;
  }

  @Override
  public String getBody() {
    return body == null ? null : new String(body, StandardCharsets.UTF_8);
  }

  @Override
  public byte[] getBodyBytes() {
    return body;
  }
}
