-- pgml_hnsw: every opclass gives the exact answer on small data, the planner uses the index, inserts
-- after the build, delete + VACUUM, iterative scans, and the errors.
\set VERBOSITY default
SET search_path = pgml, public;
SET extra_float_digits = 0;

-- 300 points in 3-d with distinct distances (deterministic)
CREATE TABLE hnsw_items (id int PRIMARY KEY, cat int, v vector(3));
INSERT INTO hnsw_items
	SELECT i, i % 20, ARRAY[sin(i * 1.1) * 3, cos(i * 0.7) * 2, sin(i * 0.3 + 1)]::real[]
	FROM generate_series(1, 300) i;
-- a NULL is not indexed
INSERT INTO hnsw_items VALUES (0, 0, NULL);

-- the index result equals the exact (sequential) one, for each operator class
CREATE FUNCTION hnsw_same(q vector, op text, k int) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	exact numeric[];
	approx numeric[];
BEGIN
	SET LOCAL enable_indexscan = off;
	SET LOCAL enable_bitmapscan = off;
	-- distances, rounded: the index and the operator may order near-ties differently in the last bit
	EXECUTE format('SELECT array_agg(round(d::numeric, 4)) FROM (SELECT v %s $1 AS d FROM hnsw_items ORDER BY v %s $1 LIMIT %s) s',
				   op, op, k)
		INTO exact USING q;
	SET LOCAL enable_indexscan = on;
	SET LOCAL enable_seqscan = off;
	-- a candidate list as large as the table: on these few hundred rows HNSW must then be exact
	SET LOCAL pgml.hnsw_ef_search = 600;
	EXECUTE format('SELECT array_agg(round(d::numeric, 4)) FROM (SELECT v %s $1 AS d FROM hnsw_items ORDER BY v %s $1 LIMIT %s) s',
				   op, op, k)
		INTO approx USING q;
	RESET enable_seqscan;
	RETURN exact = approx;
END $$;

CREATE INDEX hnsw_l2 ON hnsw_items USING pgml_hnsw (v);
SELECT hnsw_same('[1,1,1]', '<->', 10), hnsw_same('[-2,0.5,0]', '<->', 25), hnsw_same('[0,0,0]', '<->', 1);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM hnsw_items ORDER BY v <-> '[1,1,1]' LIMIT 5;
-- no index for another distance than the opclass's, or without ORDER BY
EXPLAIN (COSTS OFF) SELECT id FROM hnsw_items ORDER BY v <=> '[1,1,1]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM hnsw_items WHERE v = '[1,1,1]';
RESET enable_seqscan;
SELECT id, round((v <-> '[1,1,1]')::numeric, 4) AS d FROM hnsw_items ORDER BY v <-> '[1,1,1]' LIMIT 3;
SELECT * FROM hnsw_check('hnsw_l2');
DROP INDEX hnsw_l2;

CREATE INDEX hnsw_ip ON hnsw_items USING pgml_hnsw (v vector_ip_ops) WITH (m = 8, ef_construction = 32);
SELECT hnsw_same('[1,1,1]', '<#>', 10), hnsw_same('[-2,0.5,0]', '<#>', 10);
DROP INDEX hnsw_ip;

CREATE INDEX hnsw_cos ON hnsw_items USING pgml_hnsw (v vector_cosine_ops);
SELECT hnsw_same('[1,1,1]', '<=>', 10), hnsw_same('[-2,0.5,0]', '<=>', 20);
-- a zero vector has no cosine direction: it is not indexed, and does not disturb the index
INSERT INTO hnsw_items VALUES (1000, 0, '[0,0,0]');
SELECT hnsw_same('[0.3,-1,2]', '<=>', 10);
DELETE FROM hnsw_items WHERE id = 1000;
DROP INDEX hnsw_cos;

CREATE INDEX hnsw_l1 ON hnsw_items USING pgml_hnsw (v vector_l1_ops);
SELECT hnsw_same('[1,1,1]', '<+>', 10), hnsw_same('[-2,0.5,0]', '<+>', 10);
DROP INDEX hnsw_l1;

-- inserts after the build, then delete half and VACUUM: the graph is repaired and still exact
CREATE INDEX hnsw_l2 ON hnsw_items USING pgml_hnsw (v) WITH (m = 8, ef_construction = 32);
INSERT INTO hnsw_items
	SELECT i, i % 20, ARRAY[cos(i * 0.9) * 3, sin(i * 0.4) * 2, cos(i * 0.2)]::real[]
	FROM generate_series(301, 500) i;
SELECT * FROM hnsw_check('hnsw_l2');
SELECT hnsw_same('[1,1,1]', '<->', 10), hnsw_same('[2,-1,0.5]', '<->', 20);
DELETE FROM hnsw_items WHERE id % 2 = 0;
VACUUM hnsw_items;
SELECT * FROM hnsw_check('hnsw_l2');
SELECT hnsw_same('[1,1,1]', '<->', 10), hnsw_same('[2,-1,0.5]', '<->', 20);
-- deleted rows never come back
SELECT count(*) FILTER (WHERE id % 2 = 0) AS even, count(*) AS total
FROM (SELECT id FROM hnsw_items ORDER BY v <-> '[0,0,0]' LIMIT 100) s;
-- rows inserted into the freed space are found
INSERT INTO hnsw_items VALUES (2000, 1, '[9,9,9]'), (2001, 1, '[-9,-9,-9]');
SELECT * FROM hnsw_check('hnsw_l2');
SET enable_seqscan = off;
SELECT id FROM hnsw_items ORDER BY v <-> '[8,8,8]' LIMIT 1;
SELECT id FROM hnsw_items ORDER BY v <-> '[-8,-8,-8]' LIMIT 1;

-- iterative scans: a selective filter still returns the full LIMIT
SET pgml.hnsw_ef_search = 10;
SELECT count(*) FROM (SELECT id FROM hnsw_items WHERE cat = 7 ORDER BY v <-> '[1,1,1]' LIMIT 8) s;
SET pgml.hnsw_iterative_scan = relaxed_order;
SELECT count(*) FROM (SELECT id FROM hnsw_items WHERE cat = 7 ORDER BY v <-> '[1,1,1]' LIMIT 8) s;
SET pgml.hnsw_iterative_scan = strict_order;
SELECT count(*), bool_and(ordered) FROM (
	SELECT id, (v <-> '[1,1,1]') >= lag(v <-> '[1,1,1]', 1, 0) OVER () AS ordered
	FROM (SELECT id, v FROM hnsw_items WHERE cat = 7 ORDER BY v <-> '[1,1,1]' LIMIT 8) s) t;
SET pgml.hnsw_max_scan_tuples = 5;
SELECT count(*) < 8 AS capped FROM (SELECT id FROM hnsw_items WHERE cat = 7 ORDER BY v <-> '[1,1,1]' LIMIT 8) s;
RESET pgml.hnsw_max_scan_tuples;
RESET pgml.hnsw_iterative_scan;
RESET pgml.hnsw_ef_search;
RESET enable_seqscan;

-- an empty table, an unlogged table
CREATE UNLOGGED TABLE hnsw_empty (v vector(2));
CREATE INDEX ON hnsw_empty USING pgml_hnsw (v);
SET enable_seqscan = off;
SELECT * FROM hnsw_empty ORDER BY v <-> '[1,2]' LIMIT 3;
INSERT INTO hnsw_empty VALUES ('[1,2]'), ('[3,4]');
SELECT * FROM hnsw_empty ORDER BY v <-> '[3,3]' LIMIT 3;
RESET enable_seqscan;

-- errors
CREATE INDEX ON hnsw_items USING pgml_hnsw (v) WITH (m = 1);
CREATE INDEX ON hnsw_items USING pgml_hnsw (v) WITH (m = 101);
CREATE INDEX ON hnsw_items USING pgml_hnsw (v) WITH (ef_construction = 1001);
CREATE INDEX ON hnsw_items USING pgml_hnsw (v) WITH (m = 16, ef_construction = 20);
CREATE INDEX ON hnsw_items USING pgml_hnsw (v) WITH (lists = 3);
CREATE INDEX ON hnsw_items USING pgml_hnsw (id);
CREATE INDEX ON hnsw_items USING pgml_hnsw (v, cat);
CREATE TABLE hnsw_wide (v vector(2000));
CREATE INDEX ON hnsw_wide USING pgml_hnsw (v);
CREATE TABLE hnsw_nodim (v vector);
CREATE INDEX ON hnsw_nodim USING pgml_hnsw (v);
SET enable_seqscan = off;
SELECT id FROM hnsw_items ORDER BY v <-> '[1,2]' LIMIT 1;
RESET enable_seqscan;
SELECT * FROM hnsw_check('hnsw_items_pkey');
SET pgml.hnsw_iterative_scan = sideways;

DROP TABLE hnsw_items, hnsw_empty, hnsw_wide, hnsw_nodim;
DROP FUNCTION hnsw_same;
