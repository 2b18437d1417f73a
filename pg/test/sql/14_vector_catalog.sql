-- The vector surface in the catalog: every function of the two types is IMMUTABLE, STRICT and PARALLEL
-- SAFE; the operators, casts and operator classes that exist; distances agree with the real[] functions
-- on 384-dimensional data, for vector and halfvec.
\set VERBOSITY default
SET search_path = pgml, public;

-- functions taking or returning vector/halfvec (or their aggregate state) that are not
-- IMMUTABLE STRICT PARALLEL SAFE: none
SELECT p.oid::regprocedure, p.provolatile, p.proisstrict, p.proparallel
FROM pg_proc p
WHERE p.pronamespace = 'pgml'::regnamespace AND p.prokind = 'f'
  AND ('pgml.vector'::regtype = ANY (p.proargtypes::oid[] || p.prorettype)
       OR 'pgml.halfvec'::regtype = ANY (p.proargtypes::oid[] || p.prorettype))
  AND (p.provolatile <> 'i' OR NOT p.proisstrict OR p.proparallel <> 's');

-- aggregates, all parallel safe with a combine function
SELECT a.aggfnoid::regprocedure, a.aggcombinefn, p.proparallel
FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
WHERE p.pronamespace = 'pgml'::regnamespace AND p.proargtypes[0] IN ('pgml.vector'::regtype, 'pgml.halfvec'::regtype)
ORDER BY 1::text;

-- operators
SELECT o.oprname, o.oprleft::regtype, o.oprright::regtype, o.oprresult::regtype, o.oprcode
FROM pg_operator o
WHERE o.oprnamespace = 'pgml'::regnamespace AND o.oprleft IN ('pgml.vector'::regtype, 'pgml.halfvec'::regtype)
ORDER BY o.oprleft::regtype::text, o.oprname;

-- casts
SELECT c.castsource::regtype, c.casttarget::regtype, c.castfunc::regproc,
       CASE c.castcontext WHEN 'i' THEN 'implicit' WHEN 'a' THEN 'assignment' ELSE 'explicit' END AS context
FROM pg_cast c
WHERE c.castsource IN ('pgml.vector'::regtype, 'pgml.halfvec'::regtype)
   OR c.casttarget IN ('pgml.vector'::regtype, 'pgml.halfvec'::regtype)
ORDER BY 1::text, 2::text;

-- btree operator classes
SELECT opc.opcname, opc.opcintype::regtype, opc.opcdefault, am.amname
FROM pg_opclass opc JOIN pg_am am ON am.oid = opc.opcmethod
WHERE opc.opcnamespace = 'pgml'::regnamespace AND am.amname = 'btree' ORDER BY 1;

-- 384 dimensions: the SIMD kernels agree with the double-precision array functions
SELECT setseed(0.42);
CREATE TABLE vt_big AS
SELECT i AS id, array_agg((random() * 2 - 1)::real ORDER BY j) AS a
FROM generate_series(1, 50) i, generate_series(1, 384) j GROUP BY i;
ALTER TABLE vt_big ADD COLUMN v vector(384), ADD COLUMN h halfvec(384);
UPDATE vt_big SET v = a, h = a;
WITH q AS (SELECT a AS qa, v AS qv, h AS qh FROM vt_big WHERE id = 1)
SELECT max(abs((v <-> qv) - pgml.distance_l2(a::float8[], qa::float8[]))) < 1e-4 AS l2_ok,
       max(abs((v <#> qv) + pgml.dot_product(a::float8[], qa::float8[]))) < 1e-4 AS ip_ok,
       max(abs((v <=> qv) - (1 - pgml.cosine_similarity(a::float8[], qa::float8[])))) < 1e-6 AS cosine_ok,
       max(abs((v <+> qv) - pgml.distance_l1(a::float8[], qa::float8[]))) < 1e-3 AS l1_ok,
       max(abs((h <=> qh) - (v <=> qv))) < 1e-3 AS halfvec_cosine_close,
       max(abs((h <-> qh) - (v <-> qv))) < 1e-2 AS halfvec_l2_close,
       max(abs(vector_norm(v) - pgml.norm_l2(a::float8[]))) < 1e-5 AS norm_ok
FROM vt_big, q;
-- nearly the same nearest neighbours for vector and halfvec (binary16 rounding may swap near-ties)
CREATE FUNCTION pg_temp.top5(q int, op text, col text) RETURNS int[] LANGUAGE plpgsql AS $$
DECLARE
	r int[];
BEGIN
	EXECUTE format('SELECT array_agg(id ORDER BY d, id) FROM (SELECT id, %1$I OPERATOR(pgml.%2$s) (SELECT %1$I FROM vt_big WHERE id = $1) AS d FROM vt_big ORDER BY d, id LIMIT 5) s', col, op)
		INTO r USING q;
	RETURN r;
END $$;
SELECT op, pg_temp.top5(7, op, 'v') AS vector_top5,
       cardinality(ARRAY(SELECT unnest(pg_temp.top5(7, op, 'v')) INTERSECT SELECT unnest(pg_temp.top5(7, op, 'h')))) >= 4
       AS halfvec_agrees
FROM (VALUES ('<->'), ('<#>'), ('<=>'), ('<+>')) t(op);
DROP TABLE vt_big;
