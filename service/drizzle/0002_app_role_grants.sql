-- What the application role may do; row-level security narrows it to one tenant.
GRANT USAGE ON SCHEMA public TO chatbot_app;
--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON tenants, api_keys, sessions, messages, usage_daily TO chatbot_app;
--> statement-breakpoint
GRANT USAGE, SELECT ON SEQUENCE messages_seq_seq TO chatbot_app;
--> statement-breakpoint
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO chatbot_app;
--> statement-breakpoint
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO chatbot_app;
--> statement-breakpoint
-- An API key names no tenant until it is found: this one narrow lookup runs as the owner
-- (SECURITY DEFINER) and returns only the key's id and tenant, stamping last_used_at at
-- most once a minute.
CREATE OR REPLACE FUNCTION chatbot_authenticate_api_key(p_key_hash text)
RETURNS TABLE (key_id uuid, tenant_id uuid)
LANGUAGE sql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
  UPDATE api_keys SET last_used_at = now()
   WHERE key_hash = p_key_hash
     AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute');
  SELECT k.id, k.tenant_id FROM api_keys k WHERE k.key_hash = p_key_hash;
$$;
--> statement-breakpoint
REVOKE ALL ON FUNCTION chatbot_authenticate_api_key(text) FROM PUBLIC;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION chatbot_authenticate_api_key(text) TO chatbot_app;
