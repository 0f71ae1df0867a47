-- The chat turn's statements as functions, so each is one statement on the wire, run in its
-- own (implicit) transaction with no BEGIN, SET LOCAL ROLE or COMMIT around it. Each runs as
-- the application role (SECURITY DEFINER, owned by chatbot_app), whoever calls it, and first
-- scopes its transaction to the tenant it is given: row-level security applies to every
-- statement inside exactly as to the service's own transactions.
--
-- A session that is not the caller's raises no_data_found (P0002). The tenant is set by an
-- assignment (a simple expression, evaluated without running a query).

-- A turn's context: the session's complete messages, newest first, at most p_limit.
CREATE OR REPLACE FUNCTION chatbot_turn_history(
  p_tenant_id uuid, p_session_id uuid, p_user_id text, p_limit integer
)
RETURNS TABLE (role text, content text)
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
DECLARE
  scope text;
BEGIN
  scope := set_config('app.tenant_id', p_tenant_id::text, true);
  -- The ownership check is a one-time filter; the messages come off their index newest first.
  RETURN QUERY
    SELECT m.role, m.content FROM messages m
     WHERE m.tenant_id = p_tenant_id AND m.session_id = p_session_id AND m.status = 'complete'
       AND EXISTS (SELECT 1 FROM sessions s
                    WHERE s.tenant_id = p_tenant_id AND s.id = p_session_id AND s.user_id = p_user_id)
     ORDER BY m.seq DESC
     LIMIT p_limit;
  IF NOT FOUND THEN
    -- No history: a new session, or none of the caller's.
    PERFORM 1 FROM sessions s
      WHERE s.tenant_id = p_tenant_id AND s.id = p_session_id AND s.user_id = p_user_id;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'session not found' USING ERRCODE = 'no_data_found';
    END IF;
  END IF;
END
$$;
--> statement-breakpoint
-- Stores the user's message (and, with p_placeholder, the assistant's in state streaming,
-- right after it) and touches the session: its updated_at, and its title when it has none.
-- Without p_durable the commit does not wait for its WAL flush: for a caller that
-- acknowledges nothing before a later durable commit of its own, whose flush covers this
-- one's WAL too (it is written earlier), so nothing acknowledged can be lost.
CREATE OR REPLACE FUNCTION chatbot_store_user_message(
  p_tenant_id uuid, p_session_id uuid, p_user_id text, p_content text, p_title text,
  p_placeholder boolean, p_durable boolean
)
RETURNS SETOF messages
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, public
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
    INSERT INTO messages (tenant_id, session_id, role, content, status)
    SELECT p_tenant_id, s.id, v.role, v.content, v.status
      FROM s, (VALUES (1, 'user', p_content, 'complete'), (2, 'assistant', '', 'streaming'))
              AS v (n, role, content, status)
     WHERE v.n = 1 OR p_placeholder
     ORDER BY v.n
    RETURNING *;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'session not found' USING ERRCODE = 'no_data_found';
  END IF;
END
$$;
--> statement-breakpoint
-- Adds one request and its tokens to the tenant's usage of p_day; returns the day's requests.
CREATE OR REPLACE FUNCTION chatbot_record_usage(
  p_tenant_id uuid, p_day date, p_prompt_tokens integer, p_completion_tokens integer
)
RETURNS bigint
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
DECLARE
  scope text;
  requests bigint;
BEGIN
  scope := set_config('app.tenant_id', p_tenant_id::text, true);
  INSERT INTO usage_daily AS u (tenant_id, day, requests, prompt_tokens, completion_tokens)
  VALUES (p_tenant_id, p_day, 1, p_prompt_tokens, p_completion_tokens)
  ON CONFLICT (tenant_id, day) DO UPDATE SET
    requests = u.requests + 1,
    prompt_tokens = u.prompt_tokens + excluded.prompt_tokens,
    completion_tokens = u.completion_tokens + excluded.completion_tokens
  RETURNING u.requests INTO requests;
  RETURN requests;
END
$$;
--> statement-breakpoint
-- Stores the assistant's message (a new row in the tenant's session, or the placeholder
-- p_message_id) and counts the turn's usage. No row back when the session or the
-- placeholder is gone (a session deleted at that very moment can still fail the insert with
-- foreign_key_violation).
CREATE OR REPLACE FUNCTION chatbot_finish_turn(
  p_tenant_id uuid, p_session_id uuid, p_message_id uuid, p_day date,
  p_content text, p_status text, p_model text, p_prompt_tokens integer,
  p_completion_tokens integer, p_error text
)
RETURNS SETOF messages
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
DECLARE
  scope text;
  requests bigint;
BEGIN
  scope := set_config('app.tenant_id', p_tenant_id::text, true);
  IF p_message_id IS NULL THEN
    RETURN QUERY
      INSERT INTO messages (tenant_id, session_id, role, content, status, model, prompt_tokens,
                            completion_tokens, error)
      SELECT p_tenant_id, s.id, 'assistant', p_content, p_status, p_model, p_prompt_tokens,
             p_completion_tokens, p_error
        FROM sessions s
       WHERE s.tenant_id = p_tenant_id AND s.id = p_session_id
      RETURNING *;
  ELSE
    RETURN QUERY
      UPDATE messages SET content = p_content, status = p_status, model = p_model,
             prompt_tokens = p_prompt_tokens, completion_tokens = p_completion_tokens,
             error = p_error
       WHERE tenant_id = p_tenant_id AND id = p_message_id
      RETURNING *;
  END IF;
  -- An assignment: a simple expression, no query around the call.
  requests := chatbot_record_usage(p_tenant_id, p_day, coalesce(p_prompt_tokens, 0),
                                   coalesce(p_completion_tokens, 0));
END
$$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION chatbot_turn_history(uuid, uuid, text, integer) FROM PUBLIC;
--> statement-breakpoint
REVOKE ALL ON FUNCTION chatbot_store_user_message(uuid, uuid, text, text, text, boolean, boolean) FROM PUBLIC;
--> statement-breakpoint
REVOKE ALL ON FUNCTION chatbot_record_usage(uuid, date, integer, integer) FROM PUBLIC;
--> statement-breakpoint
REVOKE ALL ON FUNCTION chatbot_finish_turn(uuid, uuid, uuid, date, text, text, text, integer, integer, text) FROM PUBLIC;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION chatbot_turn_history(uuid, uuid, text, integer) TO chatbot_app;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION chatbot_store_user_message(uuid, uuid, text, text, text, boolean, boolean) TO chatbot_app;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION chatbot_record_usage(uuid, date, integer, integer) TO chatbot_app;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION chatbot_finish_turn(uuid, uuid, uuid, date, text, text, text, integer, integer, text) TO chatbot_app;
--> statement-breakpoint
-- Owned by the application role, so they run as it. Giving a function to a role needs the
-- giver to be able to SET ROLE to it (the service needs that too: a non-superuser owner that
-- created the role holds only its ADMIN option since PostgreSQL 16), and the role to be
-- allowed to create in the schema: only for these four statements.
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
ALTER FUNCTION chatbot_turn_history(uuid, uuid, text, integer) OWNER TO chatbot_app;
--> statement-breakpoint
ALTER FUNCTION chatbot_store_user_message(uuid, uuid, text, text, text, boolean, boolean) OWNER TO chatbot_app;
--> statement-breakpoint
ALTER FUNCTION chatbot_record_usage(uuid, date, integer, integer) OWNER TO chatbot_app;
--> statement-breakpoint
ALTER FUNCTION chatbot_finish_turn(uuid, uuid, uuid, date, text, text, text, integer, integer, text) OWNER TO chatbot_app;
--> statement-breakpoint
REVOKE CREATE ON SCHEMA public FROM chatbot_app;
