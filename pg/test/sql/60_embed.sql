-- pgml.embed on tiny sentence-transformers models (core/tests/fixtures/embed, made by
-- tools/make_embed_fixtures.py): both forms, kwargs, the model cache, vectors and HNSW, errors.
-- Each expected.json holds what SentenceTransformer.encode returned for the same inputs and kwargs.
\set VERBOSITY terse
SET search_path = pgml, public;
\getenv fixtures PGML_EMBED_FIXTURES
SET pgml.model_dirs = :'fixtures';
SET pgml.hub_offline = on;
\set bert :fixtures '/tiny-bert-mean'
\set roberta :fixtures '/tiny-roberta-cls'
\set multi :fixtures '/tiny-bert-multi'

CREATE TEMP TABLE expected AS
SELECT m.model, c.ord - 1 AS case_no, c.value->'kwargs' AS kwargs, i.ord - 1 AS i, i.value AS input,
       ARRAY(SELECT jsonb_array_elements_text(c.value->'embeddings'->(i.ord::int - 1))::real) AS embedding
FROM (VALUES ('bert', :'bert'), ('roberta', :'roberta'), ('multi', :'multi')) AS m(model, dir),
     jsonb_array_elements(pg_read_file(m.dir || '/expected.json')::jsonb->'cases') WITH ORDINALITY AS c(value, ord),
     jsonb_array_elements_text(c.value->'inputs') WITH ORDINALITY AS i(value, ord);
SELECT model, count(DISTINCT case_no) AS cases, count(*) AS rows FROM expected GROUP BY model ORDER BY model;

CREATE FUNCTION pg_temp.max_abs_diff(a real[], b real[]) RETURNS float8 LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN array_length(a, 1) IS DISTINCT FROM array_length(b, 1) THEN 'Infinity'::float8
         ELSE (SELECT max(abs(x::float8 - y)) FROM unnest(a, b) AS u(x, y)) END $$;

-- the single-text form, row by row, against sentence-transformers (within 1e-4)
SELECT e.model, e.case_no, e.kwargs, count(*) AS rows,
       max(pg_temp.max_abs_diff(pgml.embed(m.dir, e.input, e.kwargs), e.embedding)) < 1e-4 AS matches
FROM expected e JOIN (VALUES ('bert', :'bert'), ('roberta', :'roberta'), ('multi', :'multi')) AS m(model, dir)
     USING (model)
GROUP BY e.model, e.case_no, e.kwargs ORDER BY e.model, e.case_no;

-- the batch form: one row per input, in order
SELECT e.model, e.case_no, count(*) AS rows, max(pg_temp.max_abs_diff(b.embedding, e.embedding)) < 1e-4 AS matches
FROM (SELECT model, case_no, kwargs, array_agg(input ORDER BY i) AS inputs FROM expected GROUP BY 1, 2, 3) g
JOIN (VALUES ('bert', :'bert'), ('roberta', :'roberta'), ('multi', :'multi')) AS m(model, dir) USING (model)
CROSS JOIN LATERAL pgml.embed(m.dir, g.inputs, g.kwargs) WITH ORDINALITY AS b(embedding, ord)
JOIN expected e ON e.model = g.model AND e.case_no = g.case_no AND e.i = b.ord - 1
GROUP BY e.model, e.case_no ORDER BY e.model, e.case_no;

-- NULLs: the single form is strict; the batch form keeps a NULL row in place
SELECT pgml.embed(:'bert', NULL::text) IS NULL AS strict_null;
SELECT ord, embedding IS NULL AS is_null, array_length(embedding, 1) AS dims
FROM pgml.embed(:'bert', ARRAY['a', NULL, 'b']) WITH ORDINALITY AS t(embedding, ord);
SELECT count(*) AS no_rows FROM pgml.embed(:'bert', ARRAY[]::text[]);
-- named arguments as PostgresML's SDK writes them
SELECT array_length(pgml.embed(transformer => :'bert', text => 'hello', kwargs => '{}'), 1) AS dims;
SELECT count(*) FROM pgml.embed(inputs => ARRAY['x', 'y'], transformer => :'bert');

-- normalize_embeddings gives unit vectors; truncate_dim keeps the leading dimensions
SELECT round(sqrt((SELECT sum(x::float8 * x) FROM unnest(pgml.embed(:'roberta', 'some text', '{"normalize_embeddings": true}')) x))::numeric, 5) AS norm;
SELECT pgml.embed(:'bert', 'hello', '{"truncate_dim": 4}') = (pgml.embed(:'bert', 'hello'))[1:4] AS truncated_prefix;

-- into a vector column and an HNSW index (cosine); the closest text to itself is itself
CREATE TABLE embed_docs (id serial PRIMARY KEY, body text, embedding vector(32));
INSERT INTO embed_docs (body, embedding)
SELECT input, pgml.embed(:'bert', input) FROM expected WHERE model = 'bert' AND case_no = 0;
CREATE INDEX ON embed_docs USING pgml_hnsw (embedding vector_cosine_ops);
SET enable_seqscan = off;
-- (texts the tiny model cannot tell apart embed identically: the nearest is then at distance 0 too)
SELECT count(*) FILTER (WHERE nearest_distance < 1e-5) AS found_itself, count(*) AS total FROM (
  SELECT (SELECT n.embedding <=> pgml.embed(:'bert', d.body)::vector FROM embed_docs n
          ORDER BY n.embedding <=> pgml.embed(:'bert', d.body)::vector LIMIT 1) AS nearest_distance
  FROM embed_docs d WHERE d.body <> '') s;
RESET enable_seqscan;

-- int8 weights (quantized when the model loads, cached separately): close to float32
SELECT count(*) AS inputs, min(cos) >= 0.999 AS int8_close_to_float32 FROM (
  SELECT (SELECT sum(x::float8 * y) / sqrt(sum(x::float8 * x) * sum(y::float8 * y))
          FROM unnest(pgml.embed(:'bert', input, '{"dtype": "int8"}'), pgml.embed(:'bert', input)) u(x, y)) AS cos
  FROM expected WHERE model = 'bert' AND case_no = 0 AND input <> '') s;

-- the model cache: a cached model is reused; clear_model_cache drops them; cache false loads a private copy
SELECT pgml.core_memory() > 0 AS models_held;
SELECT pgml.clear_model_cache();
SELECT array_length(pgml.embed(:'bert', 'hello', '{"cache": false}'), 1) AS dims;
SELECT array_length(pgml.embed(:'bert', 'hello'), 1) AS dims;

-- errors: bad kwargs, devices, dimensions, models
SELECT pgml.embed(:'bert', 'x', '{"device": "cuda"}');
SELECT pgml.embed(:'bert', 'x', '{"device": "cpu"}') IS NOT NULL AS cpu_ok;
SELECT pgml.embed(:'bert', 'x', '{"truncate_dim": 33}');
SELECT pgml.embed(:'bert', 'x', '{"truncate_dim": 0}');
SELECT pgml.embed(:'bert', 'x', '{"batch_size": "big"}');
SELECT pgml.embed(:'bert', 'x', '{"normalise": true}');
SELECT pgml.embed(:'bert', 'x', '[1, 2]');
SELECT pgml.embed(:'roberta', 'x', '{"prompt_name": "nope"}');
SELECT pgml.embed(:'bert', 'x', '{"dtype": "float16"}');
SELECT pgml.embed('../../etc/passwd', 'x');
SELECT pgml.embed('org/na me', 'x');
SELECT pgml.embed('nobody/such-model', 'x');
SELECT * FROM pgml.embed(:'bert', ARRAY[['a'], ['b']]);
-- a non-superuser cannot widen where models are read from
CREATE ROLE embed_user;
SET ROLE embed_user;
SET pgml.model_dirs = '/';
SET pgml.cache_dir = '/tmp';
SHOW pgml.hub_token;
RESET ROLE;
DROP ROLE embed_user;
