# A Runlet function. `event` has method, path, query, headers and body (parsed JSON for
# application/json, str for text, bytes otherwise); `context` has call_id, function_name,
# remaining_time(), cancelled and secret(name).
# Return a value (dict/list as JSON, str as text, bytes), a generator to stream,
# or {"statusCode": ..., "headers": {...}, "body": ...}.


def handle(event, context):
    body = event.body if isinstance(event.body, dict) else {}
    name = event.query.get("name") or body.get("name") or "world"
    print(f"greeting {name} (call {context.call_id})")
    return {"message": f"Hello, {name}!"}
