-- Bumped in the same transaction as every token revocation, so instances that cache
-- tokens can tell cheaply whether any revocation happened since they last looked.
CREATE TABLE token_epoch (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    epoch BIGINT NOT NULL
);
INSERT INTO token_epoch (id, epoch) VALUES (1, 0);
