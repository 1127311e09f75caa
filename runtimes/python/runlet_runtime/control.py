"""The control channel to the supervisor, and print()/logging output as log events tagged
with the call that wrote them (docs/runtime-protocol.md, "Control channel"); without a control
fd, the tagged lines go to the log stream of GET /v2/logs."""
import contextvars
import io
import json
import os
import sys
import threading

#: The id of the call the current task or handler thread serves.
current_call = contextvars.ContextVar("runlet_current_call", default=None)
#: Set while a classic OpenFaaS handler runs: what it prints is its response, not a log.
captured_output = contextvars.ContextVar("runlet_captured_output", default=None)
#: Set with it when the handler's stderr belongs in its response too (combine_output).
captured_errors = contextvars.ContextVar("runlet_captured_errors", default=None)


class Control:
    """One JSON object per line on the control fd. Without one, a log line of a call goes to
    `logs` (a LogBuffer), and one of no call to the process's own stdout or stderr."""

    def __init__(self, fd, logs=None):
        self._fd = fd
        self._logs = logs
        self._lock = threading.Lock()
        self._stdout = sys.stdout
        self._stderr = sys.stderr

    def send(self, message):
        if self._fd is None:
            if message.get("event") != "log":
                return
            if self._logs is not None and message.get("callId") is not None:
                self._logs.write(message["stream"], message["text"], message["callId"])
            else:
                stream = self._stderr if message.get("stream") == "stderr" else self._stdout
                stream.write(message["text"] + "\n")
                stream.flush()
            return
        data = (json.dumps(message) + "\n").encode("utf-8")
        # Handler threads log too: one line must not be split by another's.
        with self._lock:
            try:
                view = memoryview(data)
                while view:
                    written = os.write(self._fd, view)
                    view = view[written:]
            except OSError:
                # The supervisor is gone; nothing useful is left to tell it.
                pass

    def log(self, stream, text, call_id=None):
        message = {"event": "log", "stream": stream, "text": text}
        if call_id is not None:
            message["callId"] = call_id
        self.send(message)


class LogStream(io.TextIOBase):
    """Stands in for sys.stdout/sys.stderr: each complete line is one log event of its call."""

    def __init__(self, control, stream, original):
        super().__init__()
        self._control = control
        self._stream = stream
        self._original = original
        self._partial = {}
        self._lock = threading.Lock()
        self.buffer = _BinaryLogStream(self)

    @property
    def encoding(self):
        return "utf-8"

    @property
    def errors(self):
        return "replace"

    def writable(self):
        return True

    def isatty(self):
        return False

    def fileno(self):
        # Raw writes to the descriptor are captured by the supervisor, untagged.
        return self._original.fileno()

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError("write() argument must be str, not " + type(text).__name__)
        capture = (captured_output if self._stream == "stdout" else captured_errors).get()
        if capture is not None:
            capture.append(text)
            return len(text)
        call_id = current_call.get()
        with self._lock:
            pending = self._partial.pop(call_id, "") + text
            complete, newline, rest = pending.rpartition("\n")
            if rest:
                self._partial[call_id] = rest
        if newline:
            self._control.log(self._stream, complete, call_id)
        return len(text)

    def flush(self):
        self.finish(current_call.get())

    def finish(self, call_id):
        """Sends what a call wrote without a final newline."""
        with self._lock:
            rest = self._partial.pop(call_id, "")
        if rest:
            self._control.log(self._stream, rest, call_id)


class _BinaryLogStream(io.RawIOBase):
    """sys.stdout.buffer: bytes written there are logged as UTF-8 text."""

    def __init__(self, text_stream):
        super().__init__()
        self._text = text_stream

    def writable(self):
        return True

    def write(self, data):
        self._text.write(bytes(data).decode("utf-8", "replace"))
        return len(data)

    def flush(self):
        self._text.flush()
