-- An org whose cloud credentials may leave byok only as short-lived tokens or sessions
-- (`resolve` refuses `"form": "key"` for them).
ALTER TABLE org_policies ADD COLUMN short_lived_only BOOLEAN NOT NULL DEFAULT FALSE;
