-- Every algorithm, end to end from SQL: train (stored in pgml.files), load it back, predict.
-- Algorithms this build does not provide answer 0A000. Training runs in a second session (dblink), which
-- keeps the INFO lines out of this output.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dblink;
SELECT dblink_connect('trainer', format('host=%s port=%s dbname=%s user=%s', current_setting('unix_socket_directories'),
                                        current_setting('port'), current_database(), current_user));
CREATE TABLE iris_features AS SELECT sepal_length, sepal_width, petal_length, petal_width FROM pgml.iris;

CREATE FUNCTION try_algorithm(task text, relation text, label text, alg text, hp jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	project text := task || ' ' || alg;
	result text;
	state text;
BEGIN
	PERFORM * FROM dblink('trainer', format(
		'SELECT * FROM pgml.train(%L, %L, %L, %L, algorithm => %L, hyperparams => %L, test_sampling => %L)',
		project, task, relation, label, alg, hp, 'last')) AS t(p text, t text, a text, d boolean);
	PERFORM pgml.clear_model_cache();		-- predict from the stored file
	IF task = 'decomposition' THEN
		SELECT CASE WHEN array_length(pgml.decompose(project, ARRAY[5.1, 3.5, 1.4, 0.2]::real[]), 1) > 0
		       THEN 'ok' ELSE 'bad' END INTO result;
	ELSIF task = 'clustering' THEN
		SELECT CASE WHEN pgml.predict(project, ARRAY[5.1, 3.5, 1.4, 0.2]::real[]) >= 0 THEN 'ok' ELSE 'bad' END INTO result;
	ELSIF task = 'classification' THEN
		SELECT CASE WHEN avg((pgml.predict(project, ARRAY[sepal_length, sepal_width, petal_length, petal_width]) = target)::int) > 0.6
		       THEN 'ok' ELSE 'inaccurate' END INTO result FROM pgml.iris;
	ELSE
		-- (kernel_ridge has no intercept, so no accuracy bar here: every prediction must be a number)
		SELECT CASE WHEN bool_and(p = p AND p NOT IN ('Infinity', '-Infinity')) THEN 'ok' ELSE 'not finite' END INTO result
		FROM (SELECT pgml.predict(project, ARRAY[age, sex, bmi, bp, s1, s2, s3, s4, s5, s6]) AS p FROM pgml.diabetes) t;
	END IF;
	RETURN result;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE;
	RETURN state;
END;
$$;

SELECT alg, try_algorithm('regression', 'pgml.diabetes', 'target', alg,
                          CASE WHEN alg IN ('random_forest', 'extra_trees', 'xgboost', 'xgboost_random_forest', 'gradient_boosting_trees',
                                            'lightgbm', 'bagging', 'ada_boost')
                               THEN '{"n_estimators": 10}'::jsonb
                               WHEN alg = 'hist_gradient_boosting' THEN '{"max_iter": 10}'::jsonb
                               -- nu 0.5 is infeasible for the iris split (a class of 12 rows next to one of 50)
                               WHEN alg = 'nu_svm' THEN '{"nu": 0.3}'::jsonb
                               ELSE '{}'::jsonb END) AS regression
FROM unnest(enum_range(NULL::pgml.algorithm)::text[]) alg
WHERE alg NOT IN ('kmeans', 'mini_batch_kmeans', 'birch', 'mean_shift', 'affinity_propagation', 'dbscan', 'optics',
                  'spectral', 'spectral_bi', 'spectral_co', 'feature_agglomeration', 'pca', 'transformers')
ORDER BY alg;

SELECT alg, try_algorithm('classification', 'pgml.iris', 'target', alg,
                          CASE WHEN alg IN ('random_forest', 'extra_trees', 'xgboost', 'xgboost_random_forest', 'gradient_boosting_trees',
                                            'lightgbm', 'bagging', 'ada_boost')
                               THEN '{"n_estimators": 10}'::jsonb
                               WHEN alg = 'hist_gradient_boosting' THEN '{"max_iter": 10}'::jsonb
                               -- nu 0.5 is infeasible for the iris split (a class of 12 rows next to one of 50)
                               WHEN alg = 'nu_svm' THEN '{"nu": 0.3}'::jsonb
                               ELSE '{}'::jsonb END) AS classification
FROM unnest(enum_range(NULL::pgml.algorithm)::text[]) alg
WHERE alg NOT IN ('kmeans', 'mini_batch_kmeans', 'birch', 'mean_shift', 'affinity_propagation', 'dbscan', 'optics',
                  'spectral', 'spectral_bi', 'spectral_co', 'feature_agglomeration', 'pca', 'transformers')
ORDER BY alg;

SELECT alg, try_algorithm('clustering', 'iris_features', NULL, alg,
                          CASE WHEN alg IN ('kmeans', 'mini_batch_kmeans', 'birch') THEN '{"n_clusters": 3}'::jsonb ELSE '{}'::jsonb END) AS clustering
FROM unnest(ARRAY['kmeans', 'mini_batch_kmeans', 'birch', 'mean_shift', 'affinity_propagation', 'dbscan']) alg ORDER BY alg;

SELECT try_algorithm('decomposition', 'iris_features', NULL, 'pca', '{"n_components": 2}') AS pca;

SELECT dblink_disconnect('trainer');
DROP FUNCTION try_algorithm;
RESET client_min_messages;
