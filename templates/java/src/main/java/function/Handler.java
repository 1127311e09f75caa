package function;

import dev.runlet.Context;
import dev.runlet.Event;
import dev.runlet.Function;
import dev.runlet.Response;
import java.util.Map;

/**
 * A Runlet function. `event` has method(), path(), query(), headers() and body(); `context`
 * has callId(), functionName(), remainingMillis(), cancelled() and secret(name). Return a
 * Map or List (JSON), a String (text), byte[] (octet-stream), or a Response for status and
 * headers. One instance of this class serves many calls at once: keep it free of per-call state.
 */
public class Handler implements Function {
  @Override
  public Object handle(Event event, Context context) {
    String name = event.query("name") == null ? "world" : event.query("name");
    System.out.println("greeting " + name + " (call " + context.callId() + ")");
    if (name.isBlank()) {
      return Response.status(400).withBody(Map.of("error", "name is empty"));
    }
    return Map.of("message", "Hello, " + name + "!");
  }
}
