-- A short tour of pgml. `make run` executes this file against the local cluster; run it yourself with
--   tools/pgml-server psql -f docs/tour.sql

SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgml;
RESET client_min_messages;
SELECT pgml.version();

-- The classic datasets ship with the extension.
SELECT * FROM pgml.load_dataset('iris');
SELECT * FROM pgml.iris LIMIT 5;

-- Vector functions work on REAL[] and DOUBLE PRECISION[]: arithmetic, norms, distances.
SELECT pgml.add(ARRAY[1, 2, 3]::real[], ARRAY[10, 20, 30]::real[]) AS added,
       pgml.normalize_l2(ARRAY[3, 4]::real[]) AS unit,
       pgml.cosine_similarity(ARRAY[1, 2, 3]::real[], ARRAY[2, 4, 6.5]::real[]) AS cosine;

-- The elementwise aggregates summarise a column of vectors: here, the mean measurements of each species.
SELECT target AS species,
       pgml.divide(pgml.sum(ARRAY[sepal_length, sepal_width, petal_length, petal_width]), count(*)::real) AS mean,
       pgml.max_abs(ARRAY[sepal_length, sepal_width, petal_length, petal_width]) AS largest
FROM pgml.iris GROUP BY target ORDER BY target;

-- Which flowers are closest to the first one? Euclidean distance over the four measurements.
WITH q AS (SELECT ARRAY[sepal_length, sepal_width, petal_length, petal_width] AS v FROM pgml.iris LIMIT 1)
SELECT target, pgml.distance_l2(ARRAY[sepal_length, sepal_width, petal_length, petal_width], q.v) AS distance
FROM pgml.iris, q ORDER BY distance LIMIT 5;

-- Errors are clear, and leave the session intact.
\set ON_ERROR_STOP off
SELECT pgml.dot_product(ARRAY[1, 2, 3]::real[], ARRAY[1, 2]::real[]);
\set ON_ERROR_STOP on

-- Train a classifier on the table, natively in C, and predict with the deployed model.
SELECT * FROM pgml.train('Iris', 'classification', 'pgml.iris', 'target', algorithm => 'xgboost',
                         hyperparams => '{"n_estimators": 20}');
SELECT target, pgml.predict('Iris', ARRAY[sepal_length, sepal_width, petal_length, petal_width]) AS predicted,
       pgml.predict_proba('Iris', ARRAY[sepal_length, sepal_width, petal_length, petal_width]) AS probabilities
FROM pgml.iris ORDER BY random() LIMIT 5;
SELECT t.name, t.algorithm, round((m.metrics->>'f1')::numeric, 3) AS f1 FROM pgml.trained_models t
JOIN pgml.models m ON m.id = t.id ORDER BY t.id DESC LIMIT 1;

-- The catalog where trained models, deployments and their files live.
SELECT table_name FROM information_schema.tables WHERE table_schema = 'pgml' AND table_type = 'BASE TABLE'
ORDER BY table_name;

-- Embeddings: the real sentence-transformers/all-MiniLM-L6-v2, run natively in C inside this backend
-- (tokenizer, 6-layer BERT encoder with memory-mapped weights, mean pooling, normalization).
SELECT array_length(pgml.embed('sentence-transformers/all-MiniLM-L6-v2', 'PostgreSQL is a database'), 1) AS dims;

-- Semantic search: embed a few sentences into a vector column, index them, and ask a question.
CREATE TABLE IF NOT EXISTS tour_sentences (id serial PRIMARY KEY, body text, embedding pgml.vector(384));
TRUNCATE tour_sentences;
INSERT INTO tour_sentences (body, embedding)
SELECT body, embedding
FROM unnest(ARRAY['The cat sat on the mat.', 'PostgreSQL stores rows in heap pages.',
                  'A transformer turns tokens into vectors.', 'It is raining in Paris today.',
                  'Indexes make nearest-neighbour search fast.', 'My dog loves long walks.']) WITH ORDINALITY AS s(body, n)
JOIN pgml.embed('sentence-transformers/all-MiniLM-L6-v2',
                ARRAY['The cat sat on the mat.', 'PostgreSQL stores rows in heap pages.',
                      'A transformer turns tokens into vectors.', 'It is raining in Paris today.',
                      'Indexes make nearest-neighbour search fast.', 'My dog loves long walks.'])
     WITH ORDINALITY AS e(embedding, n) USING (n);
CREATE INDEX IF NOT EXISTS tour_sentences_embedding ON tour_sentences USING pgml_hnsw (embedding pgml.vector_cosine_ops);
SELECT body, round((embedding OPERATOR(pgml.<=>)
                    pgml.embed('sentence-transformers/all-MiniLM-L6-v2', 'Which pet likes to go outside?')::pgml.vector)::numeric, 3) AS distance
FROM tour_sentences ORDER BY distance LIMIT 3;
