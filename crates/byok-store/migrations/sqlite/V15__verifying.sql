-- When a connection test of the current secret started; NULL when none is running.
-- The API shows such a credential as `verifying`. A mark left by a crash mid-test
-- goes stale and the re-verification sweep tests the credential again, which clears it.
ALTER TABLE credentials ADD COLUMN verifying_since INTEGER;
CREATE INDEX credentials_verifying ON credentials (verifying_since) WHERE verifying_since IS NOT NULL;
