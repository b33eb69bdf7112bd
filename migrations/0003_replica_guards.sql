-- evrepl schema 0003: a replica takes rows only from its subscription.
--
-- A row inserted locally on a replica blocks replication for good: when the primary's row
-- with the same sequence (events) or key id (signing_keys) arrives, the apply worker fails on
-- the unique index and retries forever. `evrepl register-key` or `append` pointed at a replica
-- by mistake is enough. So local INSERTs are refused on every node whose database subscribes
-- to a publication, which is what makes it a replica; the primary, which subscribes to
-- nothing, keeps its single writer. Dropping the subscription (promoting the node) lifts the
-- guard by itself.
--
-- Like the guards of 0001 these are ordinary (ENABLE) triggers, so they do not fire in the
-- apply worker (session_replication_role = replica) and can never block replication. They
-- are statement-level: one catalog lookup per INSERT statement, not per row, so the writer's
-- multi-row inserts on the primary pay nothing measurable.

CREATE FUNCTION evrepl_refuse_on_replica() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_subscription s
                 JOIN pg_database d ON d.oid = s.subdbid
                WHERE d.datname = current_database()) THEN
        RAISE EXCEPTION 'evrepl: this node is a replica (its database subscribes to the primary): local % into % refused',
            TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'read_only_sql_transaction',
                  HINT = 'Write on the primary; the row reaches the replicas by replication.';
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER events_replica_guard
    BEFORE INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION evrepl_refuse_on_replica();
CREATE TRIGGER signing_keys_replica_guard
    BEFORE INSERT ON signing_keys
    FOR EACH STATEMENT EXECUTE FUNCTION evrepl_refuse_on_replica();
