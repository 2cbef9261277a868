-- The models a virtual key may ask for: a JSON array of exact names and prefixes
-- ending in `*`; NULL allows every model.
ALTER TABLE virtual_keys ADD COLUMN models TEXT;
