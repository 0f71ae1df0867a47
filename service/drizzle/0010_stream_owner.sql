ALTER TABLE "messages" ADD COLUMN "stream_owner" integer;--> statement-breakpoint
CREATE INDEX "messages_streaming_idx" ON "messages" USING btree ("stream_owner") WHERE "messages"."status" = 'streaming';--> statement-breakpoint
-- A reply stays `streaming` only while a replica streams it (issue 16, item 12). Each replica
-- holds a session-level advisory lock (p_lock_class, its id) for as long as its connection
-- lives; Postgres drops it when the replica dies (killed, crashed), and a placeholder names its
-- replica in stream_owner. chatbot_store_user_message with p_stream_owner stores it; the
-- seven-argument function of 0004 stays for the release still serving while this one deploys.
CREATE OR REPLACE FUNCTION chatbot_store_user_message(
  p_tenant_id uuid, p_session_id uuid, p_user_id text, p_content text, p_title text,
  p_placeholder boolean, p_durable boolean, p_stream_owner integer
)
RETURNS SETOF messages
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
  scope text;
BEGIN
  scope := set_config('app.tenant_id', p_tenant_id::text, true);
  IF NOT p_durable THEN
    scope := set_config('synchronous_commit', 'off', true);
  END IF;
  RETURN QUERY
    WITH s AS (
      UPDATE sessions SET updated_at = now(), title = coalesce(title, p_title)
       WHERE tenant_id = p_tenant_id AND id = p_session_id AND user_id = p_user_id
      RETURNING id
    )
    INSERT INTO messages (tenant_id, session_id, role, content, status, stream_owner)
    SELECT p_tenant_id, s.id, v.role, v.content, v.status, v.owner
      FROM s, (VALUES (1, 'user', p_content, 'complete', NULL::integer),
                      (2, 'assistant', '', 'streaming', p_stream_owner))
              AS v (n, role, content, status, owner)
     WHERE v.n = 1 OR p_placeholder
     ORDER BY v.n
    RETURNING *;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'session not found' USING ERRCODE = 'no_data_found';
  END IF;
END
$$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION chatbot_store_user_message(uuid, uuid, text, text, text, boolean, boolean, integer) FROM PUBLIC;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION chatbot_store_user_message(uuid, uuid, text, text, text, boolean, boolean, integer) TO chatbot_app;
--> statement-breakpoint
-- Owned by the application role, like 0004's (see there: the owner may need SET on it first).
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = current_user AND r.rolsuper)
     AND NOT pg_has_role(current_user, 'chatbot_app', 'SET') THEN
    EXECUTE format('GRANT chatbot_app TO %I WITH SET TRUE, INHERIT FALSE', current_user);
  END IF;
END
$$;
--> statement-breakpoint
GRANT CREATE ON SCHEMA public TO chatbot_app;
--> statement-breakpoint
ALTER FUNCTION chatbot_store_user_message(uuid, uuid, text, text, text, boolean, boolean, integer) OWNER TO chatbot_app;
--> statement-breakpoint
REVOKE CREATE ON SCHEMA public FROM chatbot_app;
--> statement-breakpoint
-- Marks failed every reply left `streaming` by a replica that is gone: its lock (p_lock_class,
-- stream_owner) is held by no session of this database. A placeholder without an owner (from a
-- release before this one) is gone once it is older than p_unowned_age. Across tenants, so it
-- runs as the owner, like the API-key lookup; answers how many it marked.
CREATE OR REPLACE FUNCTION chatbot_fail_orphaned_streams(p_lock_class integer, p_unowned_age interval)
RETURNS integer
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
  marked integer;
BEGIN
  UPDATE messages m SET status = 'failed', error = 'unavailable'
   WHERE m.status = 'streaming'
     AND CASE
           WHEN m.stream_owner IS NULL THEN m.created_at < now() - p_unowned_age
           ELSE NOT EXISTS (
             SELECT 1 FROM pg_locks l
              WHERE l.locktype = 'advisory'
                AND l.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
                AND l.classid = p_lock_class::oid AND l.objid = m.stream_owner::oid
                AND l.objsubid = 2 AND l.granted)
         END;
  GET DIAGNOSTICS marked = ROW_COUNT;
  RETURN marked;
END
$$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION chatbot_fail_orphaned_streams(integer, interval) FROM PUBLIC;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION chatbot_fail_orphaned_streams(integer, interval) TO chatbot_app;
