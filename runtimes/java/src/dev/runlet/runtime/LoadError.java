package dev.runlet.runtime;

/** Why a function did not load: a protocol error code, and where, when a source line is known. */
final class LoadError extends Exception {
  private static final long serialVersionUID = 1L;

  final String code;
  final String file;
  final int line;

  LoadError(String code, String message, String file, int line, Throwable cause) {
    super(message, cause);
    this.code = code;
    this.file = file;
    this.line = line;
  }

  LoadError(String code, String message) {
    this(code, message, null, 0, null);
  }
}
