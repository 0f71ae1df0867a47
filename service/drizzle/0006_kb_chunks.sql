-- Knowledge-base chunks: one partition per index version (LIST on index_id), so a search
-- walks the HNSW graph of one knowledge base of one tenant and nothing else: no tenant
-- filter after the scan, no recall lost to it. The embedding column has no dimensions (index
-- versions differ); each partition's HNSW index is on a cast to its version's dimensions
-- (vector up to 2000, halfvec up to 4000), and searches order by that same expression.
-- The tsvector is stored (generated) with a GIN index: full-text ranking reads an index that
-- is kept up to date by the inserts, never rebuilt by a query.
CREATE TABLE kb_chunks (
  index_id uuid NOT NULL,
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL,
  knowledge_base_id uuid NOT NULL,
  document_id uuid NOT NULL,
  chunk_index integer NOT NULL,
  heading text,
  content text NOT NULL,
  embedding vector NOT NULL,
  tsv tsvector GENERATED ALWAYS AS (
    to_tsvector('english'::regconfig, coalesce(heading, '') || ' ' || content)
  ) STORED,
  PRIMARY KEY (index_id, id)
) PARTITION BY LIST (index_id);
--> statement-breakpoint
CREATE INDEX kb_chunks_document_idx ON kb_chunks (index_id, document_id, chunk_index);
--> statement-breakpoint
CREATE INDEX kb_chunks_tsv_idx ON kb_chunks USING gin (tsv);
--> statement-breakpoint
ALTER TABLE kb_chunks ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY kb_chunks_tenant_isolation ON kb_chunks AS PERMISSIVE FOR ALL TO chatbot_app
  USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON knowledge_bases, kb_indexes, kb_documents, kb_chunks TO chatbot_app;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION chatbot_kb_partition_name(p_index_id uuid)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = pg_catalog
AS $$ SELECT 'kb_chunks_' || replace(p_index_id::text, '-', '') $$;
--> statement-breakpoint
-- Makes an index version's partition (empty: ATTACH adds kb_chunks' indexes at once and
-- takes only a SHARE UPDATE EXCLUSIVE lock on kb_chunks, which searches and inserts do not
-- wait for) and, once the version's dimensions are known, its HNSW index. Idempotent. Runs as
-- the owner of kb_chunks (the application role may not create tables); refuses a version
-- that is not the given tenant's. The application role gets no privilege on the partition:
-- it reaches the rows only through kb_chunks, where row-level security applies.
CREATE OR REPLACE FUNCTION chatbot_kb_prepare_index(p_tenant_id uuid, p_index_id uuid)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, public
SET lock_timeout = '10s'
AS $$
DECLARE
  part text := chatbot_kb_partition_name(p_index_id);
  dims integer;
BEGIN
  SELECT i.dimensions INTO dims FROM kb_indexes i
   WHERE i.id = p_index_id AND i.tenant_id = p_tenant_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'index version not found' USING ERRCODE = 'no_data_found';
  END IF;
  IF to_regclass('public.' || quote_ident(part)) IS NULL THEN
    EXECUTE format('CREATE TABLE public.%I (LIKE public.kb_chunks INCLUDING DEFAULTS INCLUDING GENERATED)', part);
    EXECUTE format('ALTER TABLE public.kb_chunks ATTACH PARTITION public.%I FOR VALUES IN (%L)', part, p_index_id);
    EXECUTE format('REVOKE ALL ON public.%I FROM chatbot_app', part);
  END IF;
  IF dims IS NOT NULL THEN
    IF dims < 1 OR dims > 4000 THEN
      RAISE EXCEPTION 'dimensions % out of range 1..4000', dims USING ERRCODE = 'invalid_parameter_value';
    END IF;
    EXECUTE format(
      'CREATE INDEX IF NOT EXISTS %I ON public.%I USING hnsw ((embedding::public.%s(%s)) public.%s)',
      part || '_hnsw', part,
      CASE WHEN dims <= 2000 THEN 'vector' ELSE 'halfvec' END, dims,
      CASE WHEN dims <= 2000 THEN 'vector_cosine_ops' ELSE 'halfvec_cosine_ops' END
    );
  END IF;
END
$$;
--> statement-breakpoint
-- A deleted index version (its knowledge base, or its tenant, deleted; or retired by a
-- re-index) takes its partition with it.
CREATE OR REPLACE FUNCTION chatbot_kb_drop_partition()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public
SET lock_timeout = '10s'
AS $$
BEGIN
  EXECUTE format('DROP TABLE IF EXISTS public.%I', chatbot_kb_partition_name(OLD.id));
  RETURN OLD;
END
$$;
--> statement-breakpoint
CREATE TRIGGER kb_indexes_drop_partition AFTER DELETE ON kb_indexes
  FOR EACH ROW EXECUTE FUNCTION chatbot_kb_drop_partition();
--> statement-breakpoint
-- What the ingestion workers' sweep looks after, across tenants (it then acts inside each
-- tenant): documents queued or processing and index versions building or retired, untouched
-- for p_idle. Read-only; runs as the owner, like the API-key lookup.
CREATE OR REPLACE FUNCTION chatbot_kb_idle_work(p_idle interval)
RETURNS TABLE (kind text, tenant_id uuid, id uuid, knowledge_base_id uuid, state text)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
  SELECT 'document', d.tenant_id, d.id, d.knowledge_base_id, d.status FROM kb_documents d
   WHERE d.status IN ('queued', 'processing') AND d.updated_at < now() - p_idle
  UNION ALL
  SELECT 'index', i.tenant_id, i.id, i.knowledge_base_id, i.state FROM kb_indexes i
   WHERE i.state IN ('building', 'retired') AND i.updated_at < now() - p_idle
$$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION chatbot_kb_prepare_index(uuid, uuid) FROM PUBLIC;
--> statement-breakpoint
REVOKE ALL ON FUNCTION chatbot_kb_idle_work(interval) FROM PUBLIC;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION chatbot_kb_prepare_index(uuid, uuid) TO chatbot_app;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION chatbot_kb_idle_work(interval) TO chatbot_app;
--> statement-breakpoint
-- chatbot_finish_turn with the reply's sources. A new overload: the ten-argument function of
-- 0004 stays for the release still serving while this one deploys.
CREATE OR REPLACE FUNCTION chatbot_finish_turn(
  p_tenant_id uuid, p_session_id uuid, p_message_id uuid, p_day date,
  p_content text, p_status text, p_model text, p_prompt_tokens integer,
  p_completion_tokens integer, p_error text, p_sources jsonb
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
                            completion_tokens, error, sources)
      SELECT p_tenant_id, s.id, 'assistant', p_content, p_status, p_model, p_prompt_tokens,
             p_completion_tokens, p_error, p_sources
        FROM sessions s
       WHERE s.tenant_id = p_tenant_id AND s.id = p_session_id
      RETURNING *;
  ELSE
    RETURN QUERY
      UPDATE messages SET content = p_content, status = p_status, model = p_model,
             prompt_tokens = p_prompt_tokens, completion_tokens = p_completion_tokens,
             error = p_error, sources = p_sources
       WHERE tenant_id = p_tenant_id AND id = p_message_id
      RETURNING *;
  END IF;
  requests := chatbot_record_usage(p_tenant_id, p_day, coalesce(p_prompt_tokens, 0),
                                   coalesce(p_completion_tokens, 0));
END
$$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION chatbot_finish_turn(uuid, uuid, uuid, date, text, text, text, integer, integer, text, jsonb) FROM PUBLIC;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION chatbot_finish_turn(uuid, uuid, uuid, date, text, text, text, integer, integer, text, jsonb) TO chatbot_app;
--> statement-breakpoint
-- Owned by the application role, so it runs as it (see 0004 for what giving it needs).
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
ALTER FUNCTION chatbot_finish_turn(uuid, uuid, uuid, date, text, text, text, integer, integer, text, jsonb) OWNER TO chatbot_app;
--> statement-breakpoint
REVOKE CREATE ON SCHEMA public FROM chatbot_app;
