-- How far each audit spool chain's lines are committed: the number of the last line of
-- the last committed batch, written in that batch's transaction. After a crash, the
-- counts-only lines past it (an answer's tokens) are committed once.
CREATE TABLE audit_spool_marks (
    chain TEXT PRIMARY KEY,
    line  BIGINT NOT NULL
);
