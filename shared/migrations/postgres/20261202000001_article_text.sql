-- The article's text, for content neighbours: ours, beside the API's
-- columns, all nullable, so the API's reads are unchanged. Tags are one per
-- line.
ALTER TABLE article ADD COLUMN excerpt text;
ALTER TABLE article ADD COLUMN section text;
ALTER TABLE article ADD COLUMN tags text;
