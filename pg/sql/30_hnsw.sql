
-- ---------------------------------------------------------------------------------------------------
-- pgml_hnsw: HNSW index access method (access method names are global, hence the prefix)
-- ---------------------------------------------------------------------------------------------------

CREATE FUNCTION pgml.hnsw_handler(internal) RETURNS index_am_handler
	AS 'MODULE_PATHNAME', 'pgml_hnsw_handler' LANGUAGE C;

CREATE ACCESS METHOD pgml_hnsw TYPE INDEX HANDLER pgml.hnsw_handler;
COMMENT ON ACCESS METHOD pgml_hnsw IS 'pgml HNSW index for approximate nearest-neighbour search';

-- Strategy numbers name the distance: 1 L2, 2 negative inner product, 3 cosine, 4 L1.
CREATE OPERATOR CLASS pgml.vector_l2_ops DEFAULT FOR TYPE pgml.vector USING pgml_hnsw AS
	OPERATOR 1 pgml.<-> (pgml.vector, pgml.vector) FOR ORDER BY float_ops,
	FUNCTION 1 pgml.vector_l2_squared_distance(pgml.vector, pgml.vector);

CREATE OPERATOR CLASS pgml.vector_ip_ops FOR TYPE pgml.vector USING pgml_hnsw AS
	OPERATOR 2 pgml.<#> (pgml.vector, pgml.vector) FOR ORDER BY float_ops,
	FUNCTION 1 pgml.vector_negative_inner_product(pgml.vector, pgml.vector);

CREATE OPERATOR CLASS pgml.vector_cosine_ops FOR TYPE pgml.vector USING pgml_hnsw AS
	OPERATOR 3 pgml.<=> (pgml.vector, pgml.vector) FOR ORDER BY float_ops,
	FUNCTION 1 pgml.cosine_distance(pgml.vector, pgml.vector);

CREATE OPERATOR CLASS pgml.vector_l1_ops FOR TYPE pgml.vector USING pgml_hnsw AS
	OPERATOR 4 pgml.<+> (pgml.vector, pgml.vector) FOR ORDER BY float_ops,
	FUNCTION 1 pgml.l1_distance(pgml.vector, pgml.vector);

-- pgml.halfvec: elements stored as float16, about half the pages
CREATE OPERATOR CLASS pgml.halfvec_l2_ops DEFAULT FOR TYPE pgml.halfvec USING pgml_hnsw AS
	OPERATOR 1 pgml.<-> (pgml.halfvec, pgml.halfvec) FOR ORDER BY float_ops,
	FUNCTION 1 pgml.halfvec_l2_squared_distance(pgml.halfvec, pgml.halfvec);

CREATE OPERATOR CLASS pgml.halfvec_ip_ops FOR TYPE pgml.halfvec USING pgml_hnsw AS
	OPERATOR 2 pgml.<#> (pgml.halfvec, pgml.halfvec) FOR ORDER BY float_ops,
	FUNCTION 1 pgml.halfvec_negative_inner_product(pgml.halfvec, pgml.halfvec);

CREATE OPERATOR CLASS pgml.halfvec_cosine_ops FOR TYPE pgml.halfvec USING pgml_hnsw AS
	OPERATOR 3 pgml.<=> (pgml.halfvec, pgml.halfvec) FOR ORDER BY float_ops,
	FUNCTION 1 pgml.cosine_distance(pgml.halfvec, pgml.halfvec);

CREATE OPERATOR CLASS pgml.halfvec_l1_ops FOR TYPE pgml.halfvec USING pgml_hnsw AS
	OPERATOR 4 pgml.<+> (pgml.halfvec, pgml.halfvec) FOR ORDER BY float_ops,
	FUNCTION 1 pgml.l1_distance(pgml.halfvec, pgml.halfvec);

CREATE FUNCTION pgml.hnsw_check(index regclass) RETURNS SETOF text
	AS 'MODULE_PATHNAME', 'pgml_hnsw_check' LANGUAGE C STRICT;
COMMENT ON FUNCTION pgml.hnsw_check(regclass) IS 'structural problems of a pgml_hnsw index (no rows: none)';
