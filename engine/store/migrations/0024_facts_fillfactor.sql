-- The aggregator rewrites the same facts over and over (a poll restates every day of its window), and
-- never an indexed column: with room left on each page, the new version goes on the same page as a HOT
-- update, so neither index is touched and the old versions are pruned without a vacuum. At the default
-- fillfactor (100) the pages were full and about half the updates went to another page, each adding an
-- entry to both indexes; at 70, 9 % still did; at 50 none in the pipeline bench, and the table stays
-- smaller than at 70 because it no longer bloats. Pages written before this keep their fill until they
-- are rewritten.
ALTER TABLE campaign_daily_facts SET (fillfactor = 50);
