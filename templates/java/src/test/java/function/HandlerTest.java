package function;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.runlet.Context;
import dev.runlet.Event;
import dev.runlet.Response;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class HandlerTest {
  private static Event get(Map<String, List<String>> query) {
    return new Event() {
      public String method() { return "GET"; }
      public String path() { return "/"; }
      public Map<String, List<String>> query() { return query; }
      public String query(String name) { return query.containsKey(name) ? query.get(name).get(0) : null; }
      public Map<String, String> headers() { return Map.of(); }
      public String header(String name) { return null; }
      public byte[] body() { return new byte[0]; }
      public String bodyText() { return new String(body(), StandardCharsets.UTF_8); }
      public Map<String, String> params() { return Map.of(); }
    };
  }

  private static final Context CONTEXT = new Context() {
    public String callId() { return "test"; }
    public String functionName() { return "test"; }
    public String revision() { return "1"; }
    public long deadline() { return 0; }
    public long remainingMillis() { return Long.MAX_VALUE; }
    public boolean cancelled() { return false; }
    public String secret(String name) { return null; }
    public String secretsDir() { return null; }
  };

  @Test
  void greetsByName() {
    assertEquals(Map.of("message", "Hello, Ada!"), new Handler().handle(get(Map.of("name", List.of("Ada"))), CONTEXT));
  }

  @Test
  void greetsTheWorldByDefault() {
    assertEquals(Map.of("message", "Hello, world!"), new Handler().handle(get(Map.of()), CONTEXT));
  }

  @Test
  void refusesAnEmptyName() {
    Object answer = new Handler().handle(get(Map.of("name", List.of(" "))), CONTEXT);
    assertEquals(400, ((Response) answer).status());
  }
}
