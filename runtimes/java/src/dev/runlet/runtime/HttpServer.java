package dev.runlet.runtime;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.function.Function;

/**
 * HTTP/1.1 with keep-alive on the runtime's socket, a thread per connection: the control paths
 * and invocations from callers that speak only HTTP. Bodies are read whole (Content-Length or
 * chunked); answers carry a Content-Length. com.sun.net.httpserver cannot listen on a Unix
 * socket, hence this small server.
 */
final class HttpServer {
  private static final int MAX_HEAD = 64 * 1024;

  private final ServerSocketChannel server;
  private final Function<Exchange.Request, Exchange.Answer> handler;
  private final ExecutorService threads;

  HttpServer(ServerSocketChannel server, Function<Exchange.Request, Exchange.Answer> handler, ExecutorService threads) {
    this.server = server;
    this.handler = handler;
    this.threads = threads;
  }

  void start() {
    Thread acceptor = new Thread(() -> {
      while (server.isOpen()) {
        try {
          SocketChannel connection = server.accept();
          threads.execute(() -> serve(connection));
        } catch (IOException e) {
          return;
        }
      }
    }, "runlet-http-accept");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  private void serve(SocketChannel connection) {
    try (connection) {
      InputStream in = new BufferedInputStream(ChannelStreams.in(connection), 16 * 1024);
      OutputStream out = new BufferedOutputStream(ChannelStreams.out(connection), 16 * 1024);
      while (true) {
        String requestLine = line(in);
        if (requestLine == null) {
          return;
        }
        if (requestLine.isEmpty()) {
          continue;
        }
        String[] parts = requestLine.split(" ");
        if (parts.length < 3) {
          return;
        }
        Map<String, List<String>> headers = new LinkedHashMap<>();
        int size = requestLine.length();
        for (String header = line(in); header != null && !header.isEmpty(); header = line(in)) {
          size += header.length();
          if (size > MAX_HEAD) {
            return;
          }
          int colon = header.indexOf(':');
          if (colon > 0) {
            headers.computeIfAbsent(header.substring(0, colon).trim().toLowerCase(), k -> new ArrayList<>())
                .add(header.substring(colon + 1).trim());
          }
        }
        byte[] body = body(in, headers);
        Exchange.Answer answer = handler.apply(new Exchange.Request(parts[0], parts[1], headers, body));
        boolean close = "close".equalsIgnoreCase(first(headers, "connection"));
        write(out, answer, close);
        if (close) {
          return;
        }
      }
    } catch (IOException e) {
      // The peer went away.
    }
  }

  private static String first(Map<String, List<String>> headers, String name) {
    List<String> values = headers.get(name);
    return values == null ? null : values.get(0);
  }

  private static byte[] body(InputStream in, Map<String, List<String>> headers) throws IOException {
    String length = first(headers, "content-length");
    if (length != null) {
      return in.readNBytes(Integer.parseInt(length.trim()));
    }
    if ("chunked".equalsIgnoreCase(first(headers, "transfer-encoding"))) {
      ByteArrayOutputStream body = new ByteArrayOutputStream();
      while (true) {
        String sizeLine = line(in);
        if (sizeLine == null) {
          throw new EOFException();
        }
        int semi = sizeLine.indexOf(';');
        int chunk = Integer.parseInt((semi < 0 ? sizeLine : sizeLine.substring(0, semi)).trim(), 16);
        if (chunk == 0) {
          for (String trailer = line(in); trailer != null && !trailer.isEmpty(); trailer = line(in)) {
            // Trailers are not used.
          }
          return body.toByteArray();
        }
        body.write(in.readNBytes(chunk));
        line(in);
      }
    }
    return new byte[0];
  }

  private static void write(OutputStream out, Exchange.Answer answer, boolean close) throws IOException {
    StringBuilder head = new StringBuilder("HTTP/1.1 ").append(answer.status()).append(' ')
        .append(reason(answer.status())).append("\r\n");
    for (Map.Entry<String, List<String>> header : answer.headers().entrySet()) {
      String name = header.getKey();
      if (name.equals("content-length") || name.equals("transfer-encoding") || name.equals("connection")) {
        continue;
      }
      for (String value : header.getValue()) {
        head.append(name).append(": ").append(value.replace("\r", "").replace("\n", "")).append("\r\n");
      }
    }
    head.append("content-length: ").append(answer.body().length).append("\r\n");
    if (close) {
      head.append("connection: close\r\n");
    }
    head.append("\r\n");
    out.write(head.toString().getBytes(StandardCharsets.ISO_8859_1));
    out.write(answer.body());
    out.flush();
  }

  private static String reason(int status) {
    return switch (status) {
      case 200 -> "OK";
      case 204 -> "No Content";
      case 404 -> "Not Found";
      case 409 -> "Conflict";
      case 422 -> "Unprocessable Entity";
      case 500 -> "Internal Server Error";
      default -> "Status";
    };
  }

  /** One CRLF- (or LF-) terminated line in ISO-8859-1; null at the end of the stream. */
  private static String line(InputStream in) throws IOException {
    StringBuilder out = new StringBuilder();
    while (true) {
      int b = in.read();
      if (b < 0) {
        return out.length() == 0 ? null : out.toString();
      }
      if (b == '\n') {
        int end = out.length();
        if (end > 0 && out.charAt(end - 1) == '\r') {
          out.setLength(end - 1);
        }
        return out.toString();
      }
      if (out.length() > MAX_HEAD) {
        throw new IOException("header line too long");
      }
      out.append((char) b);
    }
  }
}
