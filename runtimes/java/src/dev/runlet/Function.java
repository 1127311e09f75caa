package dev.runlet;

/**
 * A Runlet function: one instance of the class named by the function's handler serves every
 * call of the instance, from several threads at once (up to the function's concurrency).
 *
 * <p>{@code handle} returns the answer: a {@link Response} for status and headers, or a body
 * alone: a {@code String} (text), {@code byte[]} (octet-stream), a {@code Map}, {@code List},
 * number or boolean (JSON), or {@code null} (204).
 */
@FunctionalInterface
public interface Function {
  Object handle(Event event, Context context) throws Exception;
}
