-- pgml_ivfflat iterative scans: a selective filter still gets its LIMIT, probing more lists as needed.
SET search_path = pgml, public;
SET extra_float_digits = 0;

-- 3,000 points in 30 well separated clusters; category 1 holds 30 rows (1%), in three clusters away from
-- the query point
CREATE TABLE ivf_it (id int PRIMARY KEY, category int, v vector(3));
INSERT INTO ivf_it
SELECT i, CASE WHEN i % 100 = 7 THEN 1 ELSE 0 END,
       ARRAY[(i % 30) * 10 + sin(i) , ((i % 30) / 6) * 10 + cos(i), (i % 7) / 10.0]::real[]
FROM generate_series(1, 3000) i;
CREATE INDEX ivf_it_v ON ivf_it USING pgml_ivfflat (v) WITH (lists = 30);
ANALYZE ivf_it;
SET enable_seqscan = off;
SET enable_bitmapscan = off;

EXPLAIN (COSTS OFF) SELECT id FROM ivf_it WHERE category = 1 ORDER BY v <-> '[0,0,0]' LIMIT 5;

-- off: one probe reads the nearest cluster, which has no category-1 row
SET pgml.ivfflat_probes = 1;
SELECT count(*) AS off_rows FROM (SELECT id FROM ivf_it WHERE category = 1 ORDER BY v <-> '[0,0,0]' LIMIT 5) s;

-- relaxed_order: more lists until the LIMIT is met
SET pgml.ivfflat_iterative_scan = relaxed_order;
SELECT count(*) AS relaxed_rows FROM (SELECT id FROM ivf_it WHERE category = 1 ORDER BY v <-> '[0,0,0]' LIMIT 5) s;
-- every category-1 row can be reached; with probes = 1 the batches come one list at a time
SELECT count(*) AS all_rows FROM (SELECT id FROM ivf_it WHERE category = 1 ORDER BY v <-> '[0,0,0]' LIMIT 100) s;
-- the relaxed order: each batch is sorted, so the top 5 match the exact ones as a set here
SELECT ARRAY(SELECT id FROM ivf_it WHERE category = 1 ORDER BY v <-> '[0,0,0]' LIMIT 5 ) @>
       ARRAY(SELECT id FROM ivf_it WHERE category = 1 ORDER BY l2_distance(v, '[0,0,0]') LIMIT 3) AS nearest_found;
-- max_probes caps the work (and so the rows found: the 3 nearest clusters have none)
SET pgml.ivfflat_max_probes = 3;
SELECT count(*) AS capped_rows FROM (SELECT id FROM ivf_it WHERE category = 1 ORDER BY v <-> '[0,0,0]' LIMIT 100) s;
-- max_probes below probes: probes wins
SET pgml.ivfflat_probes = 10;
SET pgml.ivfflat_max_probes = 2;
SELECT count(*) AS probes_win FROM (SELECT id FROM ivf_it WHERE category = 1 ORDER BY v <-> '[0,0,0]' LIMIT 100) s;
-- batches of probes lists: probes = 10 reaches all 30 lists in three batches
RESET pgml.ivfflat_max_probes;
SELECT count(*) AS batched_rows FROM (SELECT id FROM ivf_it WHERE category = 1 ORDER BY v <-> '[0,0,0]' LIMIT 100) s;

RESET pgml.ivfflat_iterative_scan;
RESET pgml.ivfflat_probes;
RESET enable_seqscan;
RESET enable_bitmapscan;
DROP TABLE ivf_it;
