package dev.runlet.runtime;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.function.Function;

/**
 * Invocations as frames (docs/runtime-protocol.md, "Invocation frames"): a reader thread per
 * connection collects each call's head and body, the call runs on the handler threads, and its
 * whole answer (head, body, end) leaves in one write. Answers are not streamed, so window
 * frames are not needed and are ignored.
 */
final class FrameServer {
  static final byte REQUEST_HEAD = 1;
  static final byte REQUEST_BODY = 2;
  static final byte REQUEST_END = 3;
  static final byte RESPONSE_HEAD = 4;
  static final byte RESPONSE_BODY = 5;
  static final byte RESPONSE_END = 6;
  static final byte CANCEL = 7;
  static final int MAX_FRAME = 16 * 1024 * 1024;
  static final int MAX_CHUNK = 1024 * 1024;

  private final ServerSocketChannel server;
  private final Function<Exchange.Request, Exchange.Answer> handler;
  private final ExecutorService threads;

  FrameServer(ServerSocketChannel server, Function<Exchange.Request, Exchange.Answer> handler, ExecutorService threads) {
    this.server = server;
    this.handler = handler;
    this.threads = threads;
  }

  void start() {
    Thread acceptor = new Thread(() -> {
      while (server.isOpen()) {
        try {
          SocketChannel connection = server.accept();
          Thread reader = new Thread(() -> serve(connection), "runlet-frames");
          reader.setDaemon(true);
          reader.start();
        } catch (IOException e) {
          return;
        }
      }
    }, "runlet-frames-accept");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  /** A call whose request is still arriving. */
  private static final class Pending {
    final String method;
    final String target;
    final Map<String, List<String>> headers;
    final ByteArrayOutputStream body = new ByteArrayOutputStream();

    Pending(String method, String target, Map<String, List<String>> headers) {
      this.method = method;
      this.target = target;
      this.headers = headers;
    }
  }

  private void serve(SocketChannel connection) {
    OutputStream out = ChannelStreams.out(connection);
    Map<Integer, Pending> pending = new HashMap<>();
    Set<Integer> cancelled = ConcurrentHashMap.newKeySet();
    try (connection; DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(ChannelStreams.in(connection), 64 * 1024))) {
      while (true) {
        int length;
        try {
          length = in.readInt();
        } catch (EOFException e) {
          return;
        }
        if (length < 5 || length > MAX_FRAME) {
          return;
        }
        byte type = in.readByte();
        int stream = in.readInt();
        byte[] payload = in.readNBytes(length - 5);
        switch (type) {
          case REQUEST_HEAD -> {
            pending.put(stream, head(payload));
            cancelled.remove(stream);
          }
          case REQUEST_BODY -> {
            Pending call = pending.get(stream);
            if (call != null) {
              call.body.write(payload);
            }
          }
          case REQUEST_END -> {
            Pending call = pending.remove(stream);
            if (call != null) {
              Exchange.Request request =
                  new Exchange.Request(call.method, call.target, call.headers, call.body.toByteArray());
              threads.execute(() -> {
                Exchange.Answer answer = handler.apply(request);
                if (!cancelled.remove(stream)) {
                  send(out, stream, answer);
                }
              });
            }
          }
          case CANCEL -> {
            // The handler cannot be stopped from outside; its answer is dropped.
            if (pending.remove(stream) == null) {
              cancelled.add(stream);
            }
          }
          default -> {
            // Window and unknown frames: nothing to do.
          }
        }
      }
    } catch (IOException | IllegalArgumentException e) {
      // A malformed frame or a closed connection ends the connection.
    }
  }

  private static Pending head(byte[] payload) {
    Object parsed = Json.parse(new String(payload, StandardCharsets.UTF_8));
    if (!(parsed instanceof Map<?, ?> head)) {
      throw new IllegalArgumentException("request head is not an object");
    }
    Map<String, List<String>> headers = new LinkedHashMap<>();
    if (head.get("headers") instanceof Map<?, ?> raw) {
      for (Map.Entry<?, ?> entry : raw.entrySet()) {
        List<String> values = new ArrayList<>();
        if (entry.getValue() instanceof List<?> list) {
          list.forEach(v -> values.add(String.valueOf(v)));
        } else if (entry.getValue() != null) {
          values.add(String.valueOf(entry.getValue()));
        }
        headers.put(String.valueOf(entry.getKey()).toLowerCase(), values);
      }
    }
    return new Pending(String.valueOf(head.get("method")), String.valueOf(head.get("path")), headers);
  }

  private static void send(OutputStream out, int stream, Exchange.Answer answer) {
    Map<String, Object> headers = new LinkedHashMap<>();
    answer.headers().forEach((name, values) -> headers.put(name, values.size() == 1 ? values.get(0) : values));
    Map<String, Object> head = new LinkedHashMap<>();
    head.put("status", answer.status());
    head.put("headers", headers);
    byte[] headBytes = Json.write(head).getBytes(StandardCharsets.UTF_8);
    byte[] body = answer.body();
    int chunks = (body.length + MAX_CHUNK - 1) / MAX_CHUNK;
    ByteBuffer frames = ByteBuffer.allocate(9 * (2 + chunks) + headBytes.length + body.length);
    frame(frames, RESPONSE_HEAD, stream, headBytes, 0, headBytes.length);
    for (int at = 0; at < body.length; at += MAX_CHUNK) {
      frame(frames, RESPONSE_BODY, stream, body, at, Math.min(MAX_CHUNK, body.length - at));
    }
    frame(frames, RESPONSE_END, stream, body, 0, 0);
    synchronized (out) {
      try {
        out.write(frames.array(), 0, frames.position());
      } catch (IOException e) {
        // The connection is gone; the gateway fails its calls.
      }
    }
  }

  private static void frame(ByteBuffer into, byte type, int stream, byte[] bytes, int offset, int length) {
    into.putInt(5 + length).put(type).putInt(stream).put(bytes, offset, length);
  }
}
