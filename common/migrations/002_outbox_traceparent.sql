ALTER TABLE outbox ADD COLUMN traceparent text;
COMMENT ON COLUMN outbox.traceparent IS 'W3C trace context of the call that wrote the hand-off';
