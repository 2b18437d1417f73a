-- The extension's glue, probed through the test-only extension pgml_test: errors, the worker pool, the
-- allocator hook, cancellation and logging.
\set VERBOSITY default
CREATE EXTENSION pgml_test;

-- every libpgml status has a distinct SQLSTATE
SELECT * FROM pgml_test.status_names();

-- each status is raised as an ERROR with that SQLSTATE
DO $$
DECLARE
	st text;
	msg text;
BEGIN
	FOR s IN 1..11 LOOP
		BEGIN
			PERFORM pgml_test.raise(s);
		EXCEPTION WHEN query_canceled OR others THEN
			GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
			RAISE NOTICE 'status % -> % %', s, st, msg;
		END;
	END LOOP;
END $$;

-- a specific SQLSTATE, detail and hint come through
SELECT pgml_test.raise(2, '22012', 'The detail sentence.', 'The hint sentence.');
\echo :LAST_ERROR_SQLSTATE
SELECT pgml_test.raise(0);

-- the pool follows pgml.threads
SET pgml.threads = 3;
SELECT pgml_test.pool_size();
SELECT pgml_test.parallel_sum(1000000) = 999999::bigint * 1000000 / 2 AS sum_ok;
SET pgml.threads = 1;
SELECT pgml_test.pool_size();
SELECT pgml_test.parallel_sum(1000000) = 999999::bigint * 1000000 / 2 AS sum_ok;
SET pgml.threads = 4;
SELECT pgml_test.parallel_sum(0), pgml_test.parallel_sum(1), pgml_test.parallel_sum(100);

-- libpgml allocates (malloc, counted by pgml.core_memory()), from worker threads too, and frees it all
SELECT pgml.core_memory() AS before \gset
SELECT pgml_test.parallel_alloc(2000, 1000) >= :before + 2000 * 1000 AS held_while_live;
SELECT pgml.core_memory() = :before AS all_freed;

-- a statement timeout stops parallel work within a second, through the stop hook
SET statement_timeout = '300ms';
DO $$
DECLARE
	t0 timestamptz := clock_timestamp();
BEGIN
	PERFORM pgml_test.spin(30);
	RAISE NOTICE 'not cancelled';
EXCEPTION WHEN query_canceled THEN
	RAISE NOTICE 'cancelled after less than a second: %', clock_timestamp() - t0 < interval '1.3 seconds';
END $$;
SELECT pgml_test.spin(30);
\echo :LAST_ERROR_SQLSTATE
RESET statement_timeout;
-- the pool keeps working afterwards
SELECT pgml_test.parallel_sum(1000) AS sum_after_cancel;
SELECT pgml_test.spin(0.05) > 0 AS short_spin_completes;

-- log messages reach the client from the backend's thread; worker threads never call into PostgreSQL
SELECT pgml_test.log('hello from libpgml');
SELECT pgml_test.log('dropped', from_worker => true);

RESET pgml.threads;
DROP EXTENSION pgml_test;
