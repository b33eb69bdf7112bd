-- evrepl schema 0002: tell listeners when an event lands on a node.
--
-- A subscriber's apply worker runs with session_replication_role = replica, so only an
-- ENABLE ALWAYS trigger fires there. The apply worker also runs with an empty search_path,
-- so the function pins its own. The payload is the event id; evrepld LISTENs on each replica
-- and wakes a waiting PropagateEvent at once instead of polling.

CREATE FUNCTION evrepl_notify_event() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog
AS $$
BEGIN
    PERFORM pg_notify('evrepl_event', NEW.event_id::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER events_notify
    AFTER INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION evrepl_notify_event();
ALTER TABLE events ENABLE ALWAYS TRIGGER events_notify;
