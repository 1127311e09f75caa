package dev.runlet.runtime;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The control channel (RUNLET_CONTROL_FD): one JSON object a line, "ready" once the server
 * listens and "log" for each line a call writes. Java has no API to adopt an inherited fd by
 * number, and the local provider's fd is a socket (which /proc/self/fd cannot reopen), so a
 * FileDescriptor is given the number directly (java.io is opened for that on the command line).
 */
final class Control {
  private final OutputStream out;

  private Control(OutputStream out) {
    this.out = out;
  }

  static Control open(String fd) throws IOException {
    if (fd == null || fd.isEmpty()) {
      return null;
    }
    int number = Integer.parseInt(fd);
    try {
      FileDescriptor descriptor = new FileDescriptor();
      Field field = FileDescriptor.class.getDeclaredField("fd");
      field.setAccessible(true);
      field.setInt(descriptor, number);
      return new Control(new FileOutputStream(descriptor));
    } catch (ReflectiveOperationException | RuntimeException e) {
      throw new IOException("cannot use fd " + number + ": " + e, e);
    }
  }

  void ready() {
    Map<String, Object> message = new LinkedHashMap<>();
    message.put("event", "ready");
    message.put("pid", ProcessHandle.current().pid());
    send(message);
  }

  void log(String stream, String callId, String text) {
    Map<String, Object> message = new LinkedHashMap<>();
    message.put("event", "log");
    message.put("stream", stream);
    if (callId != null) {
      message.put("callId", callId);
    }
    message.put("text", text);
    send(message);
  }

  private synchronized void send(Map<String, Object> message) {
    try {
      out.write((Json.write(message) + "\n").getBytes(StandardCharsets.UTF_8));
      out.flush();
    } catch (IOException e) {
      // The supervisor is gone; the instance is about to be stopped.
    }
  }
}
