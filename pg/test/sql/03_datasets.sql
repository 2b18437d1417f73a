-- pgml.load_dataset: the six built-in datasets with PostgresML's tables, columns and row counts.
\set VERBOSITY default

SELECT * FROM pgml.load_dataset('iris');
SELECT * FROM pgml.load_dataset('diabetes');
SELECT * FROM pgml.load_dataset('digits');
SELECT * FROM pgml.load_dataset('breast_cancer');
SELECT * FROM pgml.load_dataset('wine');
SELECT * FROM pgml.load_dataset('linnerud');

SELECT table_name, string_agg(quote_ident(column_name) || ' ' || data_type, ', ' ORDER BY ordinal_position) AS columns
FROM information_schema.columns
WHERE table_schema = 'pgml' AND table_name IN ('iris', 'diabetes', 'digits', 'breast_cancer', 'wine', 'linnerud')
GROUP BY table_name ORDER BY table_name;

SELECT (SELECT count(*) FROM pgml.iris) AS iris, (SELECT count(*) FROM pgml.diabetes) AS diabetes,
       (SELECT count(*) FROM pgml.digits) AS digits, (SELECT count(*) FROM pgml.breast_cancer) AS breast_cancer,
       (SELECT count(*) FROM pgml.wine) AS wine, (SELECT count(*) FROM pgml.linnerud) AS linnerud;

-- values
SELECT * FROM pgml.iris LIMIT 3;
SELECT target, count(*) FROM pgml.iris GROUP BY target ORDER BY target;
SELECT round(avg(sepal_length)::numeric, 4) AS mean_sepal_length FROM pgml.iris;
SELECT * FROM pgml.diabetes LIMIT 2;
SELECT round(avg(target)::numeric, 3) AS mean_target, round(sum(age * age)::numeric, 4) AS sum_sq_age FROM pgml.diabetes;
SELECT array_dims(image), image[1:2][1:8], target FROM pgml.digits LIMIT 2;
SELECT target, count(*) FROM pgml.digits GROUP BY target ORDER BY target;
SELECT malignant, count(*) FROM pgml.breast_cancer GROUP BY malignant ORDER BY malignant;
SELECT "mean radius", "worst fractal dimension", malignant FROM pgml.breast_cancer LIMIT 2;
SELECT alcohol, hue, color_intensity, "od280/od315_of_diluted_wines", proline, target FROM pgml.wine LIMIT 2;
SELECT target, count(*) FROM pgml.wine GROUP BY target ORDER BY target;
SELECT * FROM pgml.linnerud LIMIT 2;

-- limit, and loading again replaces the table
SELECT * FROM pgml.load_dataset('iris', "limit" => 10);
SELECT count(*) FROM pgml.iris;
SELECT * FROM pgml.load_dataset(source => 'iris', subset => NULL, "limit" => 0);
SELECT count(*) FROM pgml.iris;
SELECT * FROM pgml.load_dataset('iris', kwargs => '{}');
SELECT count(*) FROM pgml.iris;

-- errors
SELECT * FROM pgml.load_dataset('imdb');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pgml.load_dataset('../../etc/passwd');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pgml.load_dataset(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM pgml.load_dataset('iris', "limit" => -1);
\echo :LAST_ERROR_SQLSTATE
-- a failed load leaves the previous table alone
SELECT count(*) FROM pgml.iris;

-- the data is usable with the vector functions
SELECT pgml.sum(ARRAY[sepal_length, sepal_width, petal_length, petal_width]) FROM pgml.iris;
