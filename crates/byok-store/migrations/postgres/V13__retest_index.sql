-- The re-verification sweep lists connected credentials by their last test. Without an
-- index it read the whole credentials table every few minutes (a million rows touched
-- on a large store); a partial index holds only the credentials the sweep can pick.
CREATE INDEX credentials_retest ON credentials (last_tested_at, id)
    WHERE enabled = TRUE AND status IN ('connected', 'restricted');
