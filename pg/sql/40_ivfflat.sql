
---------------------------------------------------------------------------------------------------------
-- The pgml_ivfflat index access method (inverted lists of k-means centers; see docs/ivfflat.md)
---------------------------------------------------------------------------------------------------------

CREATE FUNCTION pgml.ivfflat_handler(internal) RETURNS index_am_handler
AS 'MODULE_PATHNAME', 'pgml_ivfflat_handler' LANGUAGE C;

CREATE ACCESS METHOD pgml_ivfflat TYPE INDEX HANDLER pgml.ivfflat_handler;
COMMENT ON ACCESS METHOD pgml_ivfflat IS 'IVF-flat approximate nearest-neighbour index for pgml.vector and pgml.halfvec';

-- Support function 1 orders like the operator; support function 2 (a norm) means "normalize": cosine.
CREATE OPERATOR CLASS pgml.vector_l2_ops
	DEFAULT FOR TYPE pgml.vector USING pgml_ivfflat AS
	OPERATOR 1 pgml.<-> (pgml.vector, pgml.vector) FOR ORDER BY float_ops,
	FUNCTION 1 pgml.vector_l2_squared_distance(pgml.vector, pgml.vector);

CREATE OPERATOR CLASS pgml.vector_ip_ops
	FOR TYPE pgml.vector USING pgml_ivfflat AS
	OPERATOR 1 pgml.<#> (pgml.vector, pgml.vector) FOR ORDER BY float_ops,
	FUNCTION 1 pgml.vector_negative_inner_product(pgml.vector, pgml.vector);

CREATE OPERATOR CLASS pgml.vector_cosine_ops
	FOR TYPE pgml.vector USING pgml_ivfflat AS
	OPERATOR 1 pgml.<=> (pgml.vector, pgml.vector) FOR ORDER BY float_ops,
	FUNCTION 1 pgml.vector_negative_inner_product(pgml.vector, pgml.vector),
	FUNCTION 2 pgml.vector_norm(pgml.vector);

-- L1: lists are built with k-medians (assign by L1, centers are coordinate-wise medians)
CREATE OPERATOR CLASS pgml.vector_l1_ops
	FOR TYPE pgml.vector USING pgml_ivfflat AS
	OPERATOR 1 pgml.<+> (pgml.vector, pgml.vector) FOR ORDER BY float_ops,
	FUNCTION 1 pgml.l1_distance(pgml.vector, pgml.vector);

-- pgml.halfvec: entries and centers stored as float16, half the pages
CREATE OPERATOR CLASS pgml.halfvec_l2_ops
	DEFAULT FOR TYPE pgml.halfvec USING pgml_ivfflat AS
	OPERATOR 1 pgml.<-> (pgml.halfvec, pgml.halfvec) FOR ORDER BY float_ops,
	FUNCTION 1 pgml.halfvec_l2_squared_distance(pgml.halfvec, pgml.halfvec);

CREATE OPERATOR CLASS pgml.halfvec_ip_ops
	FOR TYPE pgml.halfvec USING pgml_ivfflat AS
	OPERATOR 1 pgml.<#> (pgml.halfvec, pgml.halfvec) FOR ORDER BY float_ops,
	FUNCTION 1 pgml.halfvec_negative_inner_product(pgml.halfvec, pgml.halfvec);

CREATE OPERATOR CLASS pgml.halfvec_cosine_ops
	FOR TYPE pgml.halfvec USING pgml_ivfflat AS
	OPERATOR 1 pgml.<=> (pgml.halfvec, pgml.halfvec) FOR ORDER BY float_ops,
	FUNCTION 1 pgml.halfvec_negative_inner_product(pgml.halfvec, pgml.halfvec),
	FUNCTION 2 pgml.vector_norm(pgml.halfvec);

CREATE OPERATOR CLASS pgml.halfvec_l1_ops
	FOR TYPE pgml.halfvec USING pgml_ivfflat AS
	OPERATOR 1 pgml.<+> (pgml.halfvec, pgml.halfvec) FOR ORDER BY float_ops,
	FUNCTION 1 pgml.l1_distance(pgml.halfvec, pgml.halfvec);

-- Walks a pgml_ivfflat index and returns one line per structural problem (no rows: the index is sound).
CREATE FUNCTION pgml.ivfflat_check(index regclass) RETURNS SETOF text
AS 'MODULE_PATHNAME', 'pgml_ivfflat_check' LANGUAGE C STRICT PARALLEL SAFE;
