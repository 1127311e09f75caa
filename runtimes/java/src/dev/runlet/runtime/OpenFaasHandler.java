package dev.runlet.runtime;

import com.openfaas.model.IHandler;
import com.openfaas.model.IResponse;
import com.openfaas.model.Request;
import dev.runlet.Context;
import dev.runlet.Event;
import dev.runlet.Function;
import dev.runlet.Response;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * A handler of OpenFaaS's java11/java17 templates (com.openfaas.model.IHandler) served as a
 * Runlet function: the call becomes their Request, their Response becomes the answer.
 */
final class OpenFaasHandler implements Function {
  /** Where the java17 template's functions name their handler class (a ServiceLoader file). */
  static final String SERVICE_FILE = "META-INF/services/com.openfaas.model.AbstractHandler";

  private final IHandler handler;

  OpenFaasHandler(IHandler handler) {
    this.handler = handler;
  }

  /** The class the function's ServiceLoader file names, when it has one. */
  static Optional<String> serviceClass(Path classes) throws LoadError {
    Path file = classes.resolve(SERVICE_FILE);
    if (!Files.isRegularFile(file)) {
      return Optional.empty();
    }
    try {
      for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
        String name = line.replaceFirst("#.*", "").trim();
        if (!name.isEmpty()) {
          return Optional.of(name);
        }
      }
      return Optional.empty();
    } catch (IOException e) {
      throw new LoadError("RUNLET_HANDLER_LOAD_FAILED", "cannot read " + SERVICE_FILE + ": " + e.getMessage());
    }
  }

  @Override
  public Object handle(Event event, Context context) {
    String rawQuery = event instanceof Invoker.CallEvent call ? call.rawQuery() : null;
    IResponse answer = handler.Handle(new Request(event.body(), headerNames(event.headers()), rawQuery, event.path()));
    if (answer == null) {
      return Response.status(200).withBody(new byte[0]);
    }
    Response response = Response.status(answer.getStatusCode());
    if (answer.getHeaders() != null) {
      answer.getHeaders().forEach((name, value) -> {
        if (name != null && value != null) {
          response.withHeader(name, value);
        }
      });
    }
    byte[] body = answer.getBodyBytes() == null ? new byte[0] : answer.getBodyBytes();
    String type = answer.getContentType();
    if (type != null && !type.isEmpty()) {
      response.withHeader("Content-Type", type);
    } else if (!hasContentType(answer.getHeaders()) && body.length > 0) {
      // The templates set none; OpenFaaS's watchdog (Go's HTTP server) names text as text.
      response.withHeader("Content-Type", isUtf8(body) ? "text/plain; charset=utf-8" : "application/octet-stream");
    }
    return response.withBody(body);
  }

  /** Header names as the templates' JDK HTTP server gives them: "Content-type", "X-call-id". */
  private static Map<String, String> headerNames(Map<String, String> headers) {
    Map<String, String> named = new LinkedHashMap<>();
    headers.forEach((name, value) -> {
      if (!name.isEmpty()) {
        named.put(Character.toUpperCase(name.charAt(0)) + name.substring(1).toLowerCase(), value);
      }
    });
    return named;
  }

  private static boolean hasContentType(Map<String, String> headers) {
    return headers != null && headers.keySet().stream().anyMatch(name -> "content-type".equalsIgnoreCase(name));
  }

  private static boolean isUtf8(byte[] body) {
    try {
      StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(body));
      return true;
    } catch (CharacterCodingException e) {
      return false;
    }
  }
}
