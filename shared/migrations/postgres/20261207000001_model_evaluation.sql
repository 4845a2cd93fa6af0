-- The digest of the evaluation.json that justified an article model (its
-- leaderboard, its gate, the digests of its lists and factors), so a later
-- run reads that file only as it was written. Ours, nullable: the API's
-- reads are unchanged.
ALTER TABLE model ADD COLUMN evaluation_digest text;
