-- pgml_test.embedding_like: the embedding-like vectors the TAP vector tests (pg/test/t) search.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgml;
CREATE EXTENSION IF NOT EXISTS pgml_test;
RESET client_min_messages;

-- n vectors of dim real elements, deterministic in the seed; a shorter run is a prefix of a longer one
SELECT count(*), min(array_length(v, 1)), max(array_length(v, 1)) FROM pgml_test.embedding_like(100, 384, 42) v;
SELECT (SELECT array_agg(v) FROM pgml_test.embedding_like(20, 16, 7) v) =
       (SELECT array_agg(v) FROM pgml_test.embedding_like(20, 16, 7) v) AS same_seed_same_vectors,
       (SELECT array_agg(v) FROM pgml_test.embedding_like(20, 16, 7) v) <>
       (SELECT array_agg(v) FROM pgml_test.embedding_like(20, 16, 8) v) AS other_seed_other_vectors,
       (SELECT array_agg(v) FROM pgml_test.embedding_like(5, 16, 7) v) =
       (SELECT array_agg(v ORDER BY i) FROM pgml_test.embedding_like(20, 16, 7) WITH ORDINALITY AS t(v, i) WHERE i <= 5)
         AS prefix;
-- the first elements, rounded (the generator is our own: xoshiro256** and Box-Muller)
SELECT i, (SELECT array_agg(round(x::numeric, 2)) FROM unnest(v[1:4]) x) AS first_elements
FROM pgml_test.embedding_like(3, 8, 42) WITH ORDINALITY AS t(v, i);

-- each element has mean 0 and variance latent·(1 + 0.01) over many vectors (32.32 for latent 32)
SELECT abs(avg(x)) < 0.2 AS mean_near_0, var_samp(x) BETWEEN 29 AND 36 AS variance_near_32
FROM pgml_test.embedding_like(2000, 64, 1) v, unnest(v) x;

-- the variance lives in a latent-dimensional subspace: with latent 1 most vectors are ±w plus 1% noise
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(pgml.cosine_similarity(a.v, b.v))) > 0.9 AS rank_one
FROM (SELECT v, row_number() OVER () AS i FROM pgml_test.embedding_like(50, 64, 3, 1) v) a
JOIN (SELECT v, row_number() OVER () AS i FROM pgml_test.embedding_like(50, 64, 3, 1) v) b ON a.i < b.i;
-- with latent 32 in 384 dimensions, nearest neighbours (exact cosine search on real[]) are much closer
-- than with a full-rank latent space, while the average pair stays unrelated
WITH v AS (SELECT latent, i, v FROM unnest(ARRAY[32, 384]) latent,
           pgml_test.embedding_like(300, 384, 5, latent) WITH ORDINALITY AS t(v, i)),
pairs AS (SELECT a.latent, a.i, pgml.cosine_similarity(a.v, b.v) AS s
          FROM v a JOIN v b ON a.latent = b.latent AND a.i <> b.i),
per_vector AS (SELECT latent, i, max(s) AS best, avg(s) AS mean FROM pairs GROUP BY latent, i)
SELECT latent, CASE WHEN avg(best) > 0.4 THEN 'above 0.4' WHEN avg(best) < 0.3 THEN 'below 0.3' END AS nearest,
       abs(avg(mean)) < 0.05 AS average_pair_unrelated
FROM per_vector GROUP BY latent ORDER BY latent;

-- bad arguments
SELECT pgml_test.embedding_like(-1, 8, 1);
SELECT pgml_test.embedding_like(1, 0, 1);
SELECT pgml_test.embedding_like(1, 16001, 1);
SELECT pgml_test.embedding_like(1, 8, 1, 0);
SELECT count(*) AS rows_for_null_seed FROM pgml_test.embedding_like(1, 8, NULL);
