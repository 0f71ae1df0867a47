-- The owner out of the tenants' way (issue 16). The service logs in as a role of its own that
-- can only become chatbot_app (`migrate` provisions it, see API.md "Database roles"); here:
--
-- 1. Row-level security binds the tables' owner too (FORCE). The owner is no longer the
--    service, but a deployment that gives the service only the owner's URL, or a statement
--    that forgets its SET ROLE, sees no tenant's rows.
-- 2. Every SECURITY DEFINER function's search_path is pg_catalog, public, pg_temp: unlisted,
--    pg_temp is searched first, so a caller's temporary table or function could stand in for
--    one the function uses.
-- 3. The few SECURITY DEFINER functions that run as the owner (the API-key lookup, the
--    knowledge bases' partition and sweep functions) still see what they must: a policy for
--    the owner admits rows while search_path is exactly theirs. (A function-local setting of
--    our own would say it more plainly, but only a superuser may store one on a function.)
--    This is no wall against the owner, who may switch row-level security off at will; it
--    keeps the owner's ordinary statements from seeing tenants' rows by mistake.
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE sessions FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE messages FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE usage_daily FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE knowledge_bases FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE kb_indexes FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE kb_documents FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE kb_chunks FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
-- The owner (whoever runs the migrations: CURRENT_USER) sees rows only inside its own
-- SECURITY DEFINER functions. A superuser owner bypasses row-level security anyway.
-- (The search_path set below, as current_setting shows it.)
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['tenants', 'api_keys', 'sessions', 'messages', 'usage_daily',
                           'idempotency_keys', 'knowledge_bases', 'kb_indexes', 'kb_documents',
                           'kb_chunks'] LOOP
    EXECUTE format(
      'CREATE POLICY %I ON public.%I AS PERMISSIVE FOR ALL TO CURRENT_USER
         USING (current_setting(''search_path'') = ''pg_catalog, public, pg_temp'')
         WITH CHECK (current_setting(''search_path'') = ''pg_catalog, public, pg_temp'')',
      t || '_definer', t);
  END LOOP;
END
$$;
--> statement-breakpoint
-- Every SECURITY DEFINER function of the schema gets that search_path. Those owned by
-- chatbot_app (the chat turn's) are altered as it (a non-superuser owner may SET ROLE to it,
-- see 0004, but holds none of its privileges).
DO $$
DECLARE
  f record;
BEGIN
  FOR f IN
    SELECT p.oid::regprocedure AS sig, p.proowner = 'chatbot_app'::regrole AS app_owned
      FROM pg_proc p
     WHERE p.pronamespace = 'public'::regnamespace AND p.prosecdef
  LOOP
    IF f.app_owned THEN
      SET LOCAL ROLE chatbot_app;
    END IF;
    EXECUTE format('ALTER FUNCTION %s SET search_path = pg_catalog, public, pg_temp', f.sig);
    RESET ROLE;
  END LOOP;
END
$$;
