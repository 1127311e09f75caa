package io.kubeless;

/**
 * The event a Kubeless Java function takes, with Kubeless' field names. The fields are public
 * here: Kubeless' are package-private, which its functions reach by being in package
 * io.kubeless; a function loaded by a class loader of its own is in another runtime package,
 * so only public fields reach it from there. Source that compiled against Kubeless compiles.
 */
public class Event {
  /** The request body as text. */
  public String Data;

  /** From the event-id header, else the call's id. */
  public String EventID;

  /** From the event-type header, else the request's content type. */
  public String EventType;

  public String EventTime;

  public String EventNamespace;

  public Event(String data, String eventId, String eventType, String eventTime, String eventNamespace) {
    this.Data = data;
    this.EventID = eventId;
    this.EventType = eventType;
    this.EventTime = eventTime;
    this.EventNamespace = eventNamespace;
  }
}
