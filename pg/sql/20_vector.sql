
---------------------------------------------------------------------------------------------------------
-- The pgml.vector type (float32 elements, up to 16,000 dimensions): pgvector's text form and operators
---------------------------------------------------------------------------------------------------------

CREATE TYPE pgml.vector;

CREATE FUNCTION pgml.vector_in(cstring, oid, integer) RETURNS pgml.vector
AS 'MODULE_PATHNAME', 'pgml_vector_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.vector_out(pgml.vector) RETURNS cstring
AS 'MODULE_PATHNAME', 'pgml_vector_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.vector_typmod_in(cstring[]) RETURNS integer
AS 'MODULE_PATHNAME', 'pgml_vector_typmod_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.vector_typmod_out(integer) RETURNS cstring
AS 'MODULE_PATHNAME', 'pgml_vector_typmod_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.vector_recv(internal, oid, integer) RETURNS pgml.vector
AS 'MODULE_PATHNAME', 'pgml_vector_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.vector_send(pgml.vector) RETURNS bytea
AS 'MODULE_PATHNAME', 'pgml_vector_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE pgml.vector (
	INPUT = pgml.vector_in,
	OUTPUT = pgml.vector_out,
	TYPMOD_IN = pgml.vector_typmod_in,
	TYPMOD_OUT = pgml.vector_typmod_out,
	RECEIVE = pgml.vector_recv,
	SEND = pgml.vector_send,
	STORAGE = external
);

-- length coercion (vector(n)) and casts
CREATE FUNCTION pgml.vector(pgml.vector, integer, boolean) RETURNS pgml.vector
AS 'MODULE_PATHNAME', 'pgml_vector_coerce' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.array_to_vector(integer[], integer, boolean) RETURNS pgml.vector
AS 'MODULE_PATHNAME', 'pgml_array_to_vector' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.array_to_vector(real[], integer, boolean) RETURNS pgml.vector
AS 'MODULE_PATHNAME', 'pgml_array_to_vector' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.array_to_vector(double precision[], integer, boolean) RETURNS pgml.vector
AS 'MODULE_PATHNAME', 'pgml_array_to_vector' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.array_to_vector(numeric[], integer, boolean) RETURNS pgml.vector
AS 'MODULE_PATHNAME', 'pgml_array_to_vector' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.vector_to_float4(pgml.vector, integer, boolean) RETURNS real[]
AS 'MODULE_PATHNAME', 'pgml_vector_to_float4' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE CAST (pgml.vector AS pgml.vector) WITH FUNCTION pgml.vector(pgml.vector, integer, boolean) AS IMPLICIT;
CREATE CAST (integer[] AS pgml.vector) WITH FUNCTION pgml.array_to_vector(integer[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (real[] AS pgml.vector) WITH FUNCTION pgml.array_to_vector(real[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (double precision[] AS pgml.vector)
	WITH FUNCTION pgml.array_to_vector(double precision[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (numeric[] AS pgml.vector) WITH FUNCTION pgml.array_to_vector(numeric[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (pgml.vector AS real[]) WITH FUNCTION pgml.vector_to_float4(pgml.vector, integer, boolean) AS IMPLICIT;

-- distances and norms
CREATE FUNCTION pgml.l2_distance(pgml.vector, pgml.vector) RETURNS double precision
AS 'MODULE_PATHNAME', 'pgml_vector_l2_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.inner_product(pgml.vector, pgml.vector) RETURNS double precision
AS 'MODULE_PATHNAME', 'pgml_vector_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.cosine_distance(pgml.vector, pgml.vector) RETURNS double precision
AS 'MODULE_PATHNAME', 'pgml_vector_cosine_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.l1_distance(pgml.vector, pgml.vector) RETURNS double precision
AS 'MODULE_PATHNAME', 'pgml_vector_l1_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.vector_dims(pgml.vector) RETURNS integer
AS 'MODULE_PATHNAME', 'pgml_vector_dims' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.vector_norm(pgml.vector) RETURNS double precision
AS 'MODULE_PATHNAME', 'pgml_vector_norm' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- support functions for the index access methods: cheaper forms that order results the same way
CREATE FUNCTION pgml.vector_l2_squared_distance(pgml.vector, pgml.vector) RETURNS double precision
AS 'MODULE_PATHNAME', 'pgml_vector_l2_squared_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.vector_negative_inner_product(pgml.vector, pgml.vector) RETURNS double precision
AS 'MODULE_PATHNAME', 'pgml_vector_negative_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.vector_spherical_distance(pgml.vector, pgml.vector) RETURNS double precision
AS 'MODULE_PATHNAME', 'pgml_vector_spherical_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- distance operators
CREATE OPERATOR pgml.<-> (
	LEFTARG = pgml.vector, RIGHTARG = pgml.vector, FUNCTION = pgml.l2_distance, COMMUTATOR = OPERATOR(pgml.<->)
);
CREATE OPERATOR pgml.<#> (
	LEFTARG = pgml.vector, RIGHTARG = pgml.vector, FUNCTION = pgml.vector_negative_inner_product,
	COMMUTATOR = OPERATOR(pgml.<#>)
);
CREATE OPERATOR pgml.<=> (
	LEFTARG = pgml.vector, RIGHTARG = pgml.vector, FUNCTION = pgml.cosine_distance, COMMUTATOR = OPERATOR(pgml.<=>)
);
CREATE OPERATOR pgml.<+> (
	LEFTARG = pgml.vector, RIGHTARG = pgml.vector, FUNCTION = pgml.l1_distance, COMMUTATOR = OPERATOR(pgml.<+>)
);
