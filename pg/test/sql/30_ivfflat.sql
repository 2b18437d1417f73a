-- pgml_ivfflat with vector_l2_ops: build, plans, exact results with probes = lists, inserts, delete + VACUUM,
-- the check function, empty and unlogged tables.
SET search_path = pgml, public;
SET extra_float_digits = 0;
SET client_min_messages = notice;

-- 2,000 deterministic 4-dimensional points on a few curves
CREATE TABLE ivf_items (id int PRIMARY KEY, v vector(4));
INSERT INTO ivf_items
SELECT i, ARRAY[sin(i * 0.37) * (i % 5), cos(i * 0.11) * 3, (i % 13) / 4.0, sin(i * 0.05 + i % 3)]::real[]
FROM generate_series(1, 2000) i;
CREATE TABLE ivf_queries (qid int, q vector(4));
INSERT INTO ivf_queries
SELECT j, ARRAY[cos(j * 1.3) * 2, sin(j * 0.7) * 3, (j % 7) / 2.0, cos(j * 0.3)]::real[]
FROM generate_series(1, 20) j;

CREATE INDEX ivf_items_v ON ivf_items USING pgml_ivfflat (v) WITH (lists = 16);
SELECT * FROM pgml.ivfflat_check('ivf_items_v');
SELECT relname, reloptions FROM pg_class WHERE relname = 'ivf_items_v';

-- the planner picks the index for ORDER BY <-> LIMIT, also with a parameter
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM ivf_items ORDER BY v <-> '[1,2,3,0]' LIMIT 5;
EXPLAIN (COSTS OFF)
SELECT qid, ARRAY(SELECT id FROM ivf_items ORDER BY v <-> q LIMIT 10) FROM ivf_queries;
-- ... and not for another distance, or without ORDER BY
EXPLAIN (COSTS OFF) SELECT id FROM ivf_items ORDER BY v <=> '[1,2,3,0]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM ivf_items ORDER BY l2_distance(v, '[1,2,3,0]') LIMIT 5;
RESET enable_seqscan;

-- probes = lists: the index gives exactly the seqscan's top 10 for every query
SET pgml.ivfflat_probes = 16;
SELECT count(*) AS same_as_exact FROM ivf_queries
WHERE ARRAY(SELECT id FROM ivf_items ORDER BY v <-> q LIMIT 10)
    = ARRAY(SELECT id FROM ivf_items ORDER BY l2_distance(v, q) LIMIT 10);
-- in distance order, all 2,000 rows
SELECT count(*), bool_and(d >= prev) AS ordered FROM (
	SELECT d, lag(d, 1, 0.0::float8) OVER () AS prev
	FROM (SELECT v <-> '[0,1,2,0]' AS d FROM ivf_items ORDER BY v <-> '[0,1,2,0]') s) t;
-- one probe: approximate, but the nearest row of a point stored in the table is itself
RESET pgml.ivfflat_probes;
SELECT count(*) AS found_itself FROM ivf_items i
WHERE i.id % 100 = 0 AND (SELECT id FROM ivf_items ORDER BY v <-> i.v LIMIT 1) = i.id;
SELECT count(*) > 0 AS some_rows FROM (SELECT id FROM ivf_items ORDER BY v <-> '[1,1,1,1]' LIMIT 50) s;

-- inserts after the build (enough to extend list chains), NULLs are not indexed
INSERT INTO ivf_items
SELECT i, ARRAY[sin(i * 0.37) * (i % 5), cos(i * 0.11) * 3, (i % 13) / 4.0, sin(i * 0.05 + i % 3)]::real[]
FROM generate_series(2001, 4000) i;
INSERT INTO ivf_items VALUES (4001, NULL);
SELECT * FROM pgml.ivfflat_check('ivf_items_v');
SET pgml.ivfflat_probes = 16;
SELECT count(*) AS same_as_exact FROM ivf_queries
WHERE ARRAY(SELECT id FROM ivf_items ORDER BY v <-> q LIMIT 10)
    = ARRAY(SELECT id FROM ivf_items ORDER BY l2_distance(v, q) LIMIT 10);
SET enable_seqscan = off;
SELECT count(*) AS indexed FROM (SELECT id FROM ivf_items ORDER BY v <-> '[0,0,0,0]') s;
RESET enable_seqscan;

-- delete + VACUUM: dead rows leave the index, the freed room is reused
DELETE FROM ivf_items WHERE id % 3 = 0;
VACUUM ivf_items;
SELECT * FROM pgml.ivfflat_check('ivf_items_v');
SET enable_seqscan = off;
SELECT count(*) AS indexed FROM (SELECT id FROM ivf_items ORDER BY v <-> '[0,0,0,0]') s;
RESET enable_seqscan;
SELECT count(*) AS same_as_exact FROM ivf_queries
WHERE ARRAY(SELECT id FROM ivf_items ORDER BY v <-> q LIMIT 10)
    = ARRAY(SELECT id FROM ivf_items ORDER BY l2_distance(v, q) LIMIT 10);
SELECT pg_relation_size('ivf_items_v') AS size_before \gset
INSERT INTO ivf_items
SELECT i, ARRAY[sin(i * 0.37) * (i % 5), cos(i * 0.11) * 3, (i % 13) / 4.0, sin(i * 0.05 + i % 3)]::real[]
FROM generate_series(3, 3999, 3) i;
SELECT pg_relation_size('ivf_items_v') = :size_before AS reused_room;
SELECT * FROM pgml.ivfflat_check('ivf_items_v');
SELECT count(*) AS same_as_exact FROM ivf_queries
WHERE ARRAY(SELECT id FROM ivf_items ORDER BY v <-> q LIMIT 10)
    = ARRAY(SELECT id FROM ivf_items ORDER BY l2_distance(v, q) LIMIT 10);

-- REINDEX; VACUUM without dead rows
REINDEX INDEX ivf_items_v;
SELECT * FROM pgml.ivfflat_check('ivf_items_v');
VACUUM ivf_items;
RESET pgml.ivfflat_probes;

-- an empty table: the index builds with a notice, and works once rows arrive
CREATE TABLE ivf_empty (id int, v vector(2));
CREATE INDEX ivf_empty_v ON ivf_empty USING pgml_ivfflat (v) WITH (lists = 4);
SELECT * FROM pgml.ivfflat_check('ivf_empty_v');
INSERT INTO ivf_empty SELECT i, ARRAY[i, -i]::real[] FROM generate_series(1, 10) i;
SET pgml.ivfflat_probes = 4;
SELECT id FROM ivf_empty ORDER BY v <-> '[3.2,-3.2]' LIMIT 3;
-- fewer rows than lists: also a notice
TRUNCATE ivf_empty;
INSERT INTO ivf_empty VALUES (1, '[1,1]'), (2, '[2,2]');
REINDEX INDEX ivf_empty_v;
SELECT id FROM ivf_empty ORDER BY v <-> '[1.9,1.9]';
RESET pgml.ivfflat_probes;

-- unlogged tables get an init fork with the index's structure
CREATE UNLOGGED TABLE ivf_unlogged (id int, v vector(2));
INSERT INTO ivf_unlogged SELECT i, ARRAY[i % 10, i / 10]::real[] FROM generate_series(1, 100) i;
CREATE INDEX ivf_unlogged_v ON ivf_unlogged USING pgml_ivfflat (v) WITH (lists = 5);
SELECT * FROM pgml.ivfflat_check('ivf_unlogged_v');
SET enable_seqscan = off;
SELECT id FROM ivf_unlogged ORDER BY v <-> '[4,4]' LIMIT 1;
RESET enable_seqscan;

-- a partial index
CREATE INDEX ivf_items_part ON ivf_items USING pgml_ivfflat (v) WITH (lists = 4) WHERE id < 100;
SELECT * FROM pgml.ivfflat_check('ivf_items_part');
DROP INDEX ivf_items_part;

-- the progress phases have names
SELECT amname, pg_indexam_progress_phasename(oid, 3) FROM pg_am WHERE amname = 'pgml_ivfflat';

-- the check function refuses other relations
SELECT * FROM pgml.ivfflat_check('ivf_items');
SELECT * FROM pgml.ivfflat_check('ivf_items_pkey');

DROP TABLE ivf_items, ivf_queries, ivf_empty, ivf_unlogged;
