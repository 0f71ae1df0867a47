-- Full-text candidates for a knowledge-base search. Under row-level security a GIN index cannot
-- serve `tsv @@ query`: ts_match_vq is not a leakproof function, so the planner may not run it
-- before the tenant policy, and every search scanned the whole partition instead. This function
-- runs as the owner and reads the versions' partitions directly (they carry no policy of their
-- own and the application role has no privilege on them), for the given tenant's versions only:
-- the tenant check is explicit, as in the API-key lookup. It answers, per version, the best
-- p_limit chunks: those holding every word of the query first (rank above 1), then those holding
-- some, each ranked with ts_rank over at most p_ranked matches (a word that matches more says
-- little, and ranking costs per match); documents in p_hidden are skipped.
CREATE OR REPLACE FUNCTION chatbot_kb_text_matches(
  p_tenant_id uuid, p_index_ids uuid[], p_every_word tsquery, p_some_word tsquery,
  p_hidden uuid[], p_limit integer, p_ranked integer
)
RETURNS TABLE (index_id uuid, id uuid, rank real)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
  version uuid;
  part text;
  visible text := CASE WHEN cardinality(p_hidden) > 0 THEN ' AND c.document_id <> ALL ($4)' ELSE '' END;
BEGIN
  FOR version IN
    SELECT i.id FROM kb_indexes i WHERE i.id = ANY (p_index_ids) AND i.tenant_id = p_tenant_id
  LOOP
    part := chatbot_kb_partition_name(version);
    CONTINUE WHEN to_regclass('public.' || quote_ident(part)) IS NULL;
    RETURN QUERY EXECUTE format(
      'SELECT $3, m.id, max(m.rank)::real FROM (
         (SELECT c.id, 1 + ts_rank(c.tsv, $1) AS rank
            FROM (SELECT c.id, c.tsv FROM public.%1$I c WHERE c.tsv @@ $1%2$s LIMIT $5) c
           ORDER BY rank DESC LIMIT $6)
         UNION ALL
         (SELECT c.id, ts_rank(c.tsv, $2) AS rank
            FROM (SELECT c.id, c.tsv FROM public.%1$I c WHERE c.tsv @@ $2%2$s LIMIT $5) c
           ORDER BY rank DESC LIMIT $6)
       ) m GROUP BY m.id ORDER BY 3 DESC, 2 LIMIT $6', part, visible)
      USING p_every_word, p_some_word, version, p_hidden, p_ranked, p_limit;
  END LOOP;
END
$$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION chatbot_kb_text_matches(uuid, uuid[], tsquery, tsquery, uuid[], integer, integer) FROM PUBLIC;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION chatbot_kb_text_matches(uuid, uuid[], tsquery, tsquery, uuid[], integer, integer) TO chatbot_app;
