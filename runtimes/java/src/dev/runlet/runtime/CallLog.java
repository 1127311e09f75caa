package dev.runlet.runtime;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/**
 * System.out and System.err of the function: each line a call writes goes to the control
 * channel tagged with that call's id (the thread's, inherited by threads the call starts);
 * lines written outside a call go to the process's own stream, untagged.
 */
final class CallLog extends OutputStream {
  /** The call a thread runs for; threads a handler starts inherit it. */
  static final InheritableThreadLocal<String> CURRENT_CALL = new InheritableThreadLocal<>();

  private final String stream;
  private final Control control;
  private final PrintStream raw;
  private final ThreadLocal<ByteArrayOutputStream> pending =
      ThreadLocal.withInitial(ByteArrayOutputStream::new);

  private CallLog(String stream, Control control, PrintStream raw) {
    this.stream = stream;
    this.control = control;
    this.raw = raw;
  }

  /** Replaces System.out and System.err; without a control channel they stay as they are. */
  static void install(Control control) {
    if (control == null) {
      return;
    }
    System.setOut(new PrintStream(new CallLog("stdout", control, System.out), true, StandardCharsets.UTF_8));
    System.setErr(new PrintStream(new CallLog("stderr", control, System.err), true, StandardCharsets.UTF_8));
  }

  @Override
  public void write(int b) {
    ByteArrayOutputStream line = pending.get();
    if (b == '\n') {
      emit(line);
    } else {
      line.write(b);
    }
  }

  @Override
  public void write(byte[] bytes, int offset, int length) {
    ByteArrayOutputStream line = pending.get();
    int start = offset;
    for (int i = offset; i < offset + length; i++) {
      if (bytes[i] == '\n') {
        line.write(bytes, start, i - start);
        emit(line);
        start = i + 1;
      }
    }
    line.write(bytes, start, offset + length - start);
  }

  private void emit(ByteArrayOutputStream line) {
    String text = line.toString(StandardCharsets.UTF_8);
    line.reset();
    if (text.endsWith("\r")) {
      text = text.substring(0, text.length() - 1);
    }
    String callId = CURRENT_CALL.get();
    if (callId == null) {
      raw.println(text);
    } else {
      control.log(stream, callId, text);
    }
  }
}
