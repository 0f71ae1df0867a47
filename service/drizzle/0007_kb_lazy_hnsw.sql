-- HNSW indexes only where they pay: a version holding fewer chunks than the service's
-- threshold (KB_HNSW_MIN_CHUNKS) is searched exactly (a sequential scan of one partition: full
-- recall, a few milliseconds), and takes new chunks without maintaining a graph (incremental
-- HNSW inserts cost milliseconds each). When a version reaches the threshold its index is built
-- in one pass, which is about twice as fast as building it insert by insert.
-- chatbot_kb_prepare_index now only makes the partition; chatbot_kb_build_hnsw builds the index.
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
BEGIN
  PERFORM 1 FROM kb_indexes i WHERE i.id = p_index_id AND i.tenant_id = p_tenant_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'index version not found' USING ERRCODE = 'no_data_found';
  END IF;
  IF to_regclass('public.' || quote_ident(part)) IS NULL THEN
    EXECUTE format('CREATE TABLE public.%I (LIKE public.kb_chunks INCLUDING DEFAULTS INCLUDING GENERATED)', part);
    EXECUTE format('ALTER TABLE public.kb_chunks ATTACH PARTITION public.%I FOR VALUES IN (%L)', part, p_index_id);
    EXECUTE format('REVOKE ALL ON public.%I FROM chatbot_app', part);
  END IF;
END
$$;
--> statement-breakpoint
-- Builds a version's HNSW index (on the cast to its dimensions: vector up to 2000, halfvec up to
-- 4000) once it holds at least p_min_chunks chunks. True when the version has its index (now or
-- already); false while it is smaller, or its dimensions are not known yet. Writes to the
-- version wait while the index builds; searches do not.
CREATE OR REPLACE FUNCTION chatbot_kb_build_hnsw(p_tenant_id uuid, p_index_id uuid, p_min_chunks integer)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, public
SET lock_timeout = '10s'
SET maintenance_work_mem = '256MB'
AS $$
DECLARE
  part text := chatbot_kb_partition_name(p_index_id);
  dims integer;
  chunks bigint;
BEGIN
  SELECT i.dimensions INTO dims FROM kb_indexes i
   WHERE i.id = p_index_id AND i.tenant_id = p_tenant_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'index version not found' USING ERRCODE = 'no_data_found';
  END IF;
  IF dims IS NULL OR to_regclass('public.' || quote_ident(part)) IS NULL THEN
    RETURN false;
  END IF;
  IF to_regclass('public.' || quote_ident(part || '_hnsw')) IS NOT NULL THEN
    RETURN true;
  END IF;
  IF dims < 1 OR dims > 4000 THEN
    RAISE EXCEPTION 'dimensions % out of range 1..4000', dims USING ERRCODE = 'invalid_parameter_value';
  END IF;
  EXECUTE format('SELECT count(*) FROM public.%I', part) INTO chunks;
  IF chunks < p_min_chunks THEN
    RETURN false;
  END IF;
  EXECUTE format(
    'CREATE INDEX IF NOT EXISTS %I ON public.%I USING hnsw ((embedding::public.%s(%s)) public.%s)',
    part || '_hnsw', part,
    CASE WHEN dims <= 2000 THEN 'vector' ELSE 'halfvec' END, dims,
    CASE WHEN dims <= 2000 THEN 'vector_cosine_ops' ELSE 'halfvec_cosine_ops' END
  );
  EXECUTE format('ANALYZE public.%I', part);
  RETURN true;
END
$$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION chatbot_kb_build_hnsw(uuid, uuid, integer) FROM PUBLIC;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION chatbot_kb_build_hnsw(uuid, uuid, integer) TO chatbot_app;
