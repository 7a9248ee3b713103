-- The W3C traceparent of the span that enqueued a webhook event (an API request, a poll), when tracing is on
-- and one was active: each delivery attempt's span continues that trace (docs/telemetry.md). NULL otherwise.

ALTER TABLE webhook_events ADD COLUMN traceparent text;
