-- pgvector, and the application role the service switches to in every transaction.
-- The role is NOLOGIN and owns nothing, so row-level security applies to it.
CREATE EXTENSION IF NOT EXISTS vector;
--> statement-breakpoint
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'chatbot_app') THEN
    CREATE ROLE chatbot_app NOLOGIN;
  END IF;
END
$$;
--> statement-breakpoint
-- The connecting user must be a member to run SET ROLE (a superuser always may).
DO $$
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM pg_roles r WHERE r.rolname = current_user AND r.rolsuper
  ) AND NOT pg_has_role(current_user, 'chatbot_app', 'MEMBER') THEN
    EXECUTE format('GRANT chatbot_app TO %I', current_user);
  END IF;
END
$$;
