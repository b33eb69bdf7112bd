-- evrepl schema 0001: the append-only, hash-chained, signed event log.
--
-- Replication: the primary publishes INSERTs only (publish = 'insert'); updates, deletes and
-- truncates never travel. The append-only guards are ordinary (ENABLE) triggers: they refuse
-- local UPDATE/DELETE/TRUNCATE on every node, and they do not fire in a subscriber's apply
-- worker (session_replication_role = replica), so they can never block replication.

CREATE TABLE signing_keys (
    key_id      text        PRIMARY KEY CHECK (key_id ~ '^[0-9a-f]{32}$'),
    public_key  bytea       NOT NULL UNIQUE CHECK (octet_length(public_key) = 32),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- sequence is the event's position in the chain: 1, 2, 3, ... with no gaps. It is a BIGSERIAL
-- column, but the single writer (evrepl append) assigns every value explicitly under a lock,
-- because a sequence object leaves gaps after aborted transactions. The chain trigger below
-- enforces it on the primary.
CREATE TABLE events (
    event_id        uuid        PRIMARY KEY,
    sequence        bigserial   NOT NULL UNIQUE CHECK (sequence >= 1),
    event_type      text        NOT NULL CHECK (octet_length(event_type) BETWEEN 1 AND 255),
    payload         bytea       NOT NULL,
    prev_hash       bytea       NOT NULL CHECK (octet_length(prev_hash) = 32),
    content_hash    bytea       NOT NULL CHECK (octet_length(content_hash) = 32),
    signature       bytea       NOT NULL CHECK (octet_length(signature) = 64),
    signing_key_id  text        NOT NULL,
    created_at      timestamptz NOT NULL
);

CREATE FUNCTION evrepl_reject_mutation() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog
AS $$
BEGIN
    RAISE EXCEPTION 'evrepl: % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER events_append_only
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION evrepl_reject_mutation();
CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION evrepl_reject_mutation();
CREATE TRIGGER signing_keys_append_only
    BEFORE UPDATE OR DELETE ON signing_keys
    FOR EACH ROW EXECUTE FUNCTION evrepl_reject_mutation();
CREATE TRIGGER signing_keys_no_truncate
    BEFORE TRUNCATE ON signing_keys
    FOR EACH STATEMENT EXECUTE FUNCTION evrepl_reject_mutation();

REVOKE TRUNCATE ON events, signing_keys FROM PUBLIC;

-- Local inserts (the writer on the primary) must extend the chain: the next sequence, the
-- predecessor's content hash as prev_hash (32 zero bytes for the genesis event), a known key.
-- ENABLE (origin) trigger: it does not run in an apply worker, so a replica receives whatever
-- the primary sent, and verification, not the apply, judges it.
CREATE FUNCTION evrepl_check_chain() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public
AS $$
DECLARE
    head_seq  bigint;
    head_hash bytea;
BEGIN
    SELECT e.sequence, e.content_hash INTO head_seq, head_hash
      FROM events e ORDER BY e.sequence DESC LIMIT 1;
    IF head_seq IS NULL THEN
        head_seq := 0;
        head_hash := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
    END IF;
    IF NEW.sequence <> head_seq + 1 THEN
        RAISE EXCEPTION 'evrepl: sequence % does not extend the chain (head is %)',
            NEW.sequence, head_seq USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.prev_hash <> head_hash THEN
        RAISE EXCEPTION 'evrepl: prev_hash of sequence % is not the head''s content hash',
            NEW.sequence USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM signing_keys k WHERE k.key_id = NEW.signing_key_id) THEN
        RAISE EXCEPTION 'evrepl: signing key % is not registered', NEW.signing_key_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER events_extend_chain
    BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION evrepl_check_chain();

-- What the primary publishes. Every node has it (harmless on subscribers); replicas
-- subscribe to the primary's. schema_migrations is not published: every node fills its own.
CREATE PUBLICATION evrepl_events FOR TABLE events, signing_keys WITH (publish = 'insert');
