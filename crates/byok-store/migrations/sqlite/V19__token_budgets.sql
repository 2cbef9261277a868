-- Monthly token budgets (tokens the provider reported) beside the request limits.
ALTER TABLE virtual_keys ADD COLUMN monthly_token_limit BIGINT;
ALTER TABLE credentials ADD COLUMN monthly_token_limit BIGINT;
