-- Products become updatable (UpdateProduct): a row version for the API's etag (its hex form), incremented by every
-- UPDATE of the row, and the time of the last change. Existing rows start at version 1, last changed when created.
ALTER TABLE products ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version > 0);
ALTER TABLE products ADD COLUMN update_time timestamptz;
UPDATE products SET update_time = create_time;
ALTER TABLE products ALTER COLUMN update_time SET NOT NULL, ALTER COLUMN update_time SET DEFAULT now();
