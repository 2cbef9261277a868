-- One-time sign-in links to the settings page: a user token that may sign a browser in
-- from another site (the product's) once, until expires_at. Taking the link deletes it.
CREATE TABLE ui_sign_in_links (
    token_hash  BLOB PRIMARY KEY,
    expires_at  INTEGER NOT NULL
);
