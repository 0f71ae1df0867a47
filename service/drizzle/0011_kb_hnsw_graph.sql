-- A smaller HNSW graph for the knowledge-base indexes built from now on: m 8 (links per node)
-- instead of pgvector's default 16, ef_construction its default 64. Graph maintenance is most of
-- an insert into an indexed version, and m sets its cost. Measured here (pgvector 0.8, 256
-- dimensions, 10,000 chunks in 40 tight topics, 300 queries; 256-row inserts into a 7,200-chunk
-- copy), recall@10 at ef_search 40 / 64 / 100 and the insert:
--   m 16, ef_construction 64: 0.990 / 1.000 / 1.000, 456-521 ms
--   m 12, ef_construction 48: 0.994 / 0.999 / 1.000, 228-319 ms
--   m  8, ef_construction 64: 0.980 / 0.996 / 1.000, 225-238 ms
--   m  8, ef_construction 32: 0.883 / 0.957 / 0.973, 159-196 ms
-- Searches use ef_search 64 at least (repository.ts, MIN_EF_SEARCH). Indexes built before keep
-- their parameters until their version is re-indexed.
CREATE OR REPLACE FUNCTION chatbot_kb_build_hnsw(p_tenant_id uuid, p_index_id uuid, p_min_chunks integer)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
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
    'CREATE INDEX IF NOT EXISTS %I ON public.%I USING hnsw ((embedding::public.%s(%s)) public.%s) WITH (m = 8, ef_construction = 64)',
    part || '_hnsw', part,
    CASE WHEN dims <= 2000 THEN 'vector' ELSE 'halfvec' END, dims,
    CASE WHEN dims <= 2000 THEN 'vector_cosine_ops' ELSE 'halfvec_cosine_ops' END
  );
  EXECUTE format('ANALYZE public.%I', part);
  RETURN true;
END
$$;
