-- pgml_hnsw builds: past maintenance_work_mem (NOTICE, then on-disk inserts), cancel, dimensions.
\set VERBOSITY default
SET search_path = pgml, public;

-- 200-dim vectors, deterministic
CREATE TABLE hnsw_big (id int, v vector(200));
INSERT INTO hnsw_big
	SELECT i, (SELECT array_agg(sin(i * 0.37 + j * 1.3) + cos(i * 0.11 * j))::real[] FROM generate_series(1, 200) j)
	FROM generate_series(1, 800) i;

-- the graph outgrows 1MB: NOTICE, the rest goes through on-disk inserts, and the index is sound
SET maintenance_work_mem = '1MB';
CREATE INDEX hnsw_big_v ON hnsw_big USING pgml_hnsw (v) WITH (m = 8, ef_construction = 32);
RESET maintenance_work_mem;
SELECT * FROM hnsw_check('hnsw_big_v');
SET enable_seqscan = off;
SET pgml.hnsw_ef_search = 100;
SELECT bool_and(id = (SELECT b.id FROM hnsw_big b ORDER BY b.v <-> q.v LIMIT 1)) AS finds_itself
FROM (SELECT id, v FROM hnsw_big WHERE id % 40 = 3) q;
RESET pgml.hnsw_ef_search;
RESET enable_seqscan;

-- a cancelled build leaves nothing behind
SET statement_timeout = '30ms';
CREATE INDEX hnsw_big_slow ON hnsw_big USING pgml_hnsw (v) WITH (m = 32, ef_construction = 400);
RESET statement_timeout;
SELECT count(*) FROM pg_class WHERE relname = 'hnsw_big_slow';

-- 1536 dimensions (OpenAI-sized embeddings) fit a page with the default m
CREATE TABLE hnsw_wide (v vector(1536));
INSERT INTO hnsw_wide SELECT (SELECT array_agg((i * j) % 7)::real[] FROM generate_series(1, 1536) j)
	FROM generate_series(1, 20) i;
CREATE INDEX ON hnsw_wide USING pgml_hnsw (v vector_cosine_ops);
SELECT count(*) FROM hnsw_wide;

DROP TABLE hnsw_big, hnsw_wide;
