-- Cancelling a training stops it within a second and leaves nothing behind; dump_all / load_all.
\set VERBOSITY default
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dblink;
CREATE TABLE big AS
SELECT random()::float4 AS a, random()::float4 AS b, random()::float4 AS c, random()::float4 AS y
FROM generate_series(1, 20000);
SELECT count(*) AS models_before FROM pgml.models \gset
SELECT dblink_connect('worker', format('host=%s port=%s dbname=%s user=%s', current_setting('unix_socket_directories'),
                                       current_setting('port'), current_database(), current_user));
SELECT dblink_send_query('worker', $q$SELECT * FROM pgml.train('Big', 'regression', 'big', 'y', algorithm => 'xgboost',
                                       hyperparams => '{"n_estimators": 100000, "max_depth": 8}')$q$);
-- wait until the worker is training, then cancel it and time how long it takes to stop
DO $$
DECLARE
	worker int;
	t0 timestamptz;
BEGIN
	FOR i IN 1..200 LOOP
		SELECT pid INTO worker FROM pg_stat_activity
		WHERE query LIKE '%pgml.train(''Big''%' AND pid <> pg_backend_pid() AND state = 'active';
		EXIT WHEN worker IS NOT NULL;
		PERFORM pg_sleep(0.05);
	END LOOP;
	IF worker IS NULL THEN
		RAISE EXCEPTION 'the training never started';
	END IF;
	PERFORM pg_sleep(1.5);	-- well into the boosting rounds
	t0 := clock_timestamp();
	PERFORM pg_cancel_backend(worker);
	WHILE dblink_is_busy('worker') = 1 LOOP
		PERFORM pg_sleep(0.01);
		-- a cancel that did not land shows as "f" below; cancel again so the suite never hangs on it
		IF clock_timestamp() - t0 > interval '5 seconds' THEN
			PERFORM pg_cancel_backend(worker);
			PERFORM pg_sleep(0.5);
		END IF;
	END LOOP;
	RAISE INFO 'training stopped within a second of the cancel: %', clock_timestamp() - t0 < interval '1 second';
END $$;
SELECT * FROM dblink_get_result('worker', false) AS t(project text, task text, algorithm text, deployed boolean);
SELECT dblink_error_message('worker') LIKE '%canceling statement due to user request%' AS cancelled;
SELECT dblink_disconnect('worker');
SELECT count(*) = :models_before AS no_model_left FROM pgml.models;
SELECT count(*) AS big_project FROM pgml.projects WHERE name = 'Big';

-- dump_all and load_all round trip the catalog, and predictions keep working
SELECT current_setting('data_directory') AS dir \gset
SELECT pgml.dump_all(:'dir');
SELECT count(*) AS projects FROM pgml.projects \gset
SELECT count(*) AS models FROM pgml.models \gset
SELECT count(*) AS files FROM pgml.files \gset
SELECT round(pgml.predict('Diabetes', ARRAY[0.03, 0.05, 0.06, 0.02, -0.04, -0.03, -0.04, 0, 0.02, -0.02]::real[])::numeric, 2) AS before_reload;
TRUNCATE pgml.projects, pgml.snapshots, pgml.models, pgml.files, pgml.deployments, pgml.logs;
SELECT pgml.clear_model_cache();
SELECT pgml.load_all(:'dir');
SELECT (SELECT count(*) FROM pgml.projects) = :projects AS projects_back,
       (SELECT count(*) FROM pgml.models) = :models AS models_back,
       (SELECT count(*) FROM pgml.files) = :files AS files_back;
SELECT round(pgml.predict('Diabetes', ARRAY[0.03, 0.05, 0.06, 0.02, -0.04, -0.03, -0.04, 0, 0.02, -0.02]::real[])::numeric, 2) AS after_reload;
-- the sequences continue after the loaded ids
SELECT nextval('pgml.models_id_seq') > (SELECT max(id) FROM pgml.models) AS models_sequence_moved,
       nextval('pgml.projects_id_seq') > (SELECT max(id) FROM pgml.projects) AS projects_sequence_moved,
       nextval('pgml.files_id_seq') > (SELECT max(id) FROM pgml.files) AS files_sequence_moved;
SELECT pgml.load_all(NULL);
\echo :LAST_ERROR_SQLSTATE
RESET client_min_messages;
