
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
	STORAGE = external,
	-- vector and halfvec share a category in which vector is preferred: a call with only untyped
	-- literals, l2_distance('[1,2]', '[3,4]'), resolves to vector instead of being ambiguous
	CATEGORY = 'v',
	PREFERRED = true
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

-- elementwise arithmetic
CREATE FUNCTION pgml.vector_add(pgml.vector, pgml.vector) RETURNS pgml.vector
AS 'MODULE_PATHNAME', 'pgml_vector_add' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.vector_sub(pgml.vector, pgml.vector) RETURNS pgml.vector
AS 'MODULE_PATHNAME', 'pgml_vector_sub' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.vector_mul(pgml.vector, pgml.vector) RETURNS pgml.vector
AS 'MODULE_PATHNAME', 'pgml_vector_mul' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OPERATOR pgml.+ (
	LEFTARG = pgml.vector, RIGHTARG = pgml.vector, FUNCTION = pgml.vector_add, COMMUTATOR = OPERATOR(pgml.+)
);
CREATE OPERATOR pgml.- (LEFTARG = pgml.vector, RIGHTARG = pgml.vector, FUNCTION = pgml.vector_sub);
CREATE OPERATOR pgml.* (
	LEFTARG = pgml.vector, RIGHTARG = pgml.vector, FUNCTION = pgml.vector_mul, COMMUTATOR = OPERATOR(pgml.*)
);

-- comparison and the default btree operator class
CREATE FUNCTION pgml.vector_lt(pgml.vector, pgml.vector) RETURNS boolean
AS 'MODULE_PATHNAME', 'pgml_vector_lt' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.vector_le(pgml.vector, pgml.vector) RETURNS boolean
AS 'MODULE_PATHNAME', 'pgml_vector_le' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.vector_eq(pgml.vector, pgml.vector) RETURNS boolean
AS 'MODULE_PATHNAME', 'pgml_vector_eq' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.vector_ne(pgml.vector, pgml.vector) RETURNS boolean
AS 'MODULE_PATHNAME', 'pgml_vector_ne' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.vector_ge(pgml.vector, pgml.vector) RETURNS boolean
AS 'MODULE_PATHNAME', 'pgml_vector_ge' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.vector_gt(pgml.vector, pgml.vector) RETURNS boolean
AS 'MODULE_PATHNAME', 'pgml_vector_gt' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.vector_cmp(pgml.vector, pgml.vector) RETURNS integer
AS 'MODULE_PATHNAME', 'pgml_vector_cmp' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR pgml.< (
	LEFTARG = pgml.vector, RIGHTARG = pgml.vector, FUNCTION = pgml.vector_lt,
	COMMUTATOR = OPERATOR(pgml.>), NEGATOR = OPERATOR(pgml.>=),
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
CREATE OPERATOR pgml.<= (
	LEFTARG = pgml.vector, RIGHTARG = pgml.vector, FUNCTION = pgml.vector_le,
	COMMUTATOR = OPERATOR(pgml.>=), NEGATOR = OPERATOR(pgml.>),
	RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
CREATE OPERATOR pgml.= (
	LEFTARG = pgml.vector, RIGHTARG = pgml.vector, FUNCTION = pgml.vector_eq,
	COMMUTATOR = OPERATOR(pgml.=), NEGATOR = OPERATOR(pgml.<>),
	RESTRICT = eqsel, JOIN = eqjoinsel, MERGES
);
CREATE OPERATOR pgml.<> (
	LEFTARG = pgml.vector, RIGHTARG = pgml.vector, FUNCTION = pgml.vector_ne,
	COMMUTATOR = OPERATOR(pgml.<>), NEGATOR = OPERATOR(pgml.=),
	RESTRICT = neqsel, JOIN = neqjoinsel
);
CREATE OPERATOR pgml.>= (
	LEFTARG = pgml.vector, RIGHTARG = pgml.vector, FUNCTION = pgml.vector_ge,
	COMMUTATOR = OPERATOR(pgml.<=), NEGATOR = OPERATOR(pgml.<),
	RESTRICT = scalargesel, JOIN = scalargejoinsel
);
CREATE OPERATOR pgml.> (
	LEFTARG = pgml.vector, RIGHTARG = pgml.vector, FUNCTION = pgml.vector_gt,
	COMMUTATOR = OPERATOR(pgml.<), NEGATOR = OPERATOR(pgml.<=),
	RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);

CREATE OPERATOR CLASS pgml.vector_ops DEFAULT FOR TYPE pgml.vector USING btree AS
	OPERATOR 1 pgml.< ,
	OPERATOR 2 pgml.<= ,
	OPERATOR 3 pgml.= ,
	OPERATOR 4 pgml.>= ,
	OPERATOR 5 pgml.> ,
	FUNCTION 1 pgml.vector_cmp(pgml.vector, pgml.vector);

-- normalization, slicing, quantization
CREATE FUNCTION pgml.l2_normalize(pgml.vector) RETURNS pgml.vector
AS 'MODULE_PATHNAME', 'pgml_vector_l2_normalize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.subvector(pgml.vector, integer, integer) RETURNS pgml.vector
AS 'MODULE_PATHNAME', 'pgml_vector_subvector' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.binary_quantize(pgml.vector) RETURNS bit
AS 'MODULE_PATHNAME', 'pgml_vector_binary_quantize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- aggregates: state float8[] {count, sums...}, combined by adding (parallel safe, no serialization)
CREATE FUNCTION pgml.vector_accum(double precision[], pgml.vector) RETURNS double precision[]
AS 'MODULE_PATHNAME', 'pgml_vector_accum' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.vector_combine(double precision[], double precision[]) RETURNS double precision[]
AS 'MODULE_PATHNAME', 'pgml_vector_combine' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.vector_avg(double precision[]) RETURNS pgml.vector
AS 'MODULE_PATHNAME', 'pgml_vector_avg' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.vector_sum(double precision[]) RETURNS pgml.vector
AS 'MODULE_PATHNAME', 'pgml_vector_sum' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE AGGREGATE pgml.avg(pgml.vector) (
	SFUNC = pgml.vector_accum, STYPE = double precision[], INITCOND = '{0}',
	COMBINEFUNC = pgml.vector_combine, FINALFUNC = pgml.vector_avg,
	PARALLEL = SAFE
);
CREATE AGGREGATE pgml.sum(pgml.vector) (
	SFUNC = pgml.vector_accum, STYPE = double precision[], INITCOND = '{0}',
	COMBINEFUNC = pgml.vector_combine, FINALFUNC = pgml.vector_sum,
	PARALLEL = SAFE
);

---------------------------------------------------------------------------------------------------------
-- The pgml.halfvec type (IEEE binary16 elements, up to 16,000 dimensions): the same surface as vector
---------------------------------------------------------------------------------------------------------

CREATE TYPE pgml.halfvec;

CREATE FUNCTION pgml.halfvec_in(cstring, oid, integer) RETURNS pgml.halfvec
AS 'MODULE_PATHNAME', 'pgml_halfvec_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.halfvec_out(pgml.halfvec) RETURNS cstring
AS 'MODULE_PATHNAME', 'pgml_halfvec_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.halfvec_typmod_in(cstring[]) RETURNS integer
AS 'MODULE_PATHNAME', 'pgml_halfvec_typmod_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.halfvec_recv(internal, oid, integer) RETURNS pgml.halfvec
AS 'MODULE_PATHNAME', 'pgml_halfvec_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.halfvec_send(pgml.halfvec) RETURNS bytea
AS 'MODULE_PATHNAME', 'pgml_halfvec_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE pgml.halfvec (
	INPUT = pgml.halfvec_in,
	OUTPUT = pgml.halfvec_out,
	TYPMOD_IN = pgml.halfvec_typmod_in,
	TYPMOD_OUT = pgml.vector_typmod_out,
	RECEIVE = pgml.halfvec_recv,
	SEND = pgml.halfvec_send,
	STORAGE = external,
	CATEGORY = 'v'
);

-- length coercion and casts (vector -> halfvec implicit, halfvec -> vector assignment, as pgvector)
CREATE FUNCTION pgml.halfvec(pgml.halfvec, integer, boolean) RETURNS pgml.halfvec
AS 'MODULE_PATHNAME', 'pgml_halfvec_coerce' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.array_to_halfvec(integer[], integer, boolean) RETURNS pgml.halfvec
AS 'MODULE_PATHNAME', 'pgml_array_to_halfvec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.array_to_halfvec(real[], integer, boolean) RETURNS pgml.halfvec
AS 'MODULE_PATHNAME', 'pgml_array_to_halfvec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.array_to_halfvec(double precision[], integer, boolean) RETURNS pgml.halfvec
AS 'MODULE_PATHNAME', 'pgml_array_to_halfvec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.array_to_halfvec(numeric[], integer, boolean) RETURNS pgml.halfvec
AS 'MODULE_PATHNAME', 'pgml_array_to_halfvec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.halfvec_to_float4(pgml.halfvec, integer, boolean) RETURNS real[]
AS 'MODULE_PATHNAME', 'pgml_halfvec_to_float4' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.halfvec(pgml.vector, integer, boolean) RETURNS pgml.halfvec
AS 'MODULE_PATHNAME', 'pgml_vector_to_halfvec' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.vector(pgml.halfvec, integer, boolean) RETURNS pgml.vector
AS 'MODULE_PATHNAME', 'pgml_halfvec_to_vector' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE CAST (pgml.halfvec AS pgml.halfvec)
	WITH FUNCTION pgml.halfvec(pgml.halfvec, integer, boolean) AS IMPLICIT;
CREATE CAST (integer[] AS pgml.halfvec)
	WITH FUNCTION pgml.array_to_halfvec(integer[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (real[] AS pgml.halfvec)
	WITH FUNCTION pgml.array_to_halfvec(real[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (double precision[] AS pgml.halfvec)
	WITH FUNCTION pgml.array_to_halfvec(double precision[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (numeric[] AS pgml.halfvec)
	WITH FUNCTION pgml.array_to_halfvec(numeric[], integer, boolean) AS ASSIGNMENT;
CREATE CAST (pgml.halfvec AS real[])
	WITH FUNCTION pgml.halfvec_to_float4(pgml.halfvec, integer, boolean) AS IMPLICIT;
CREATE CAST (pgml.vector AS pgml.halfvec)
	WITH FUNCTION pgml.halfvec(pgml.vector, integer, boolean) AS IMPLICIT;
CREATE CAST (pgml.halfvec AS pgml.vector)
	WITH FUNCTION pgml.vector(pgml.halfvec, integer, boolean) AS ASSIGNMENT;

-- distances and norms
CREATE FUNCTION pgml.l2_distance(pgml.halfvec, pgml.halfvec) RETURNS double precision
AS 'MODULE_PATHNAME', 'pgml_halfvec_l2_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.inner_product(pgml.halfvec, pgml.halfvec) RETURNS double precision
AS 'MODULE_PATHNAME', 'pgml_halfvec_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.cosine_distance(pgml.halfvec, pgml.halfvec) RETURNS double precision
AS 'MODULE_PATHNAME', 'pgml_halfvec_cosine_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.l1_distance(pgml.halfvec, pgml.halfvec) RETURNS double precision
AS 'MODULE_PATHNAME', 'pgml_halfvec_l1_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.vector_dims(pgml.halfvec) RETURNS integer
AS 'MODULE_PATHNAME', 'pgml_halfvec_dims' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.vector_norm(pgml.halfvec) RETURNS double precision
AS 'MODULE_PATHNAME', 'pgml_halfvec_norm' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.l2_norm(pgml.halfvec) RETURNS double precision
AS 'MODULE_PATHNAME', 'pgml_halfvec_norm' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION pgml.halfvec_l2_squared_distance(pgml.halfvec, pgml.halfvec) RETURNS double precision
AS 'MODULE_PATHNAME', 'pgml_halfvec_l2_squared_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.halfvec_negative_inner_product(pgml.halfvec, pgml.halfvec) RETURNS double precision
AS 'MODULE_PATHNAME', 'pgml_halfvec_negative_inner_product' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.halfvec_spherical_distance(pgml.halfvec, pgml.halfvec) RETURNS double precision
AS 'MODULE_PATHNAME', 'pgml_halfvec_spherical_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR pgml.<-> (
	LEFTARG = pgml.halfvec, RIGHTARG = pgml.halfvec, FUNCTION = pgml.l2_distance, COMMUTATOR = OPERATOR(pgml.<->)
);
CREATE OPERATOR pgml.<#> (
	LEFTARG = pgml.halfvec, RIGHTARG = pgml.halfvec, FUNCTION = pgml.halfvec_negative_inner_product,
	COMMUTATOR = OPERATOR(pgml.<#>)
);
CREATE OPERATOR pgml.<=> (
	LEFTARG = pgml.halfvec, RIGHTARG = pgml.halfvec, FUNCTION = pgml.cosine_distance,
	COMMUTATOR = OPERATOR(pgml.<=>)
);
CREATE OPERATOR pgml.<+> (
	LEFTARG = pgml.halfvec, RIGHTARG = pgml.halfvec, FUNCTION = pgml.l1_distance, COMMUTATOR = OPERATOR(pgml.<+>)
);

-- elementwise arithmetic
CREATE FUNCTION pgml.halfvec_add(pgml.halfvec, pgml.halfvec) RETURNS pgml.halfvec
AS 'MODULE_PATHNAME', 'pgml_halfvec_add' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.halfvec_sub(pgml.halfvec, pgml.halfvec) RETURNS pgml.halfvec
AS 'MODULE_PATHNAME', 'pgml_halfvec_sub' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.halfvec_mul(pgml.halfvec, pgml.halfvec) RETURNS pgml.halfvec
AS 'MODULE_PATHNAME', 'pgml_halfvec_mul' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE OPERATOR pgml.+ (
	LEFTARG = pgml.halfvec, RIGHTARG = pgml.halfvec, FUNCTION = pgml.halfvec_add, COMMUTATOR = OPERATOR(pgml.+)
);
CREATE OPERATOR pgml.- (LEFTARG = pgml.halfvec, RIGHTARG = pgml.halfvec, FUNCTION = pgml.halfvec_sub);
CREATE OPERATOR pgml.* (
	LEFTARG = pgml.halfvec, RIGHTARG = pgml.halfvec, FUNCTION = pgml.halfvec_mul, COMMUTATOR = OPERATOR(pgml.*)
);

-- comparison and the default btree operator class
CREATE FUNCTION pgml.halfvec_lt(pgml.halfvec, pgml.halfvec) RETURNS boolean
AS 'MODULE_PATHNAME', 'pgml_halfvec_lt' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.halfvec_le(pgml.halfvec, pgml.halfvec) RETURNS boolean
AS 'MODULE_PATHNAME', 'pgml_halfvec_le' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.halfvec_eq(pgml.halfvec, pgml.halfvec) RETURNS boolean
AS 'MODULE_PATHNAME', 'pgml_halfvec_eq' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.halfvec_ne(pgml.halfvec, pgml.halfvec) RETURNS boolean
AS 'MODULE_PATHNAME', 'pgml_halfvec_ne' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.halfvec_ge(pgml.halfvec, pgml.halfvec) RETURNS boolean
AS 'MODULE_PATHNAME', 'pgml_halfvec_ge' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.halfvec_gt(pgml.halfvec, pgml.halfvec) RETURNS boolean
AS 'MODULE_PATHNAME', 'pgml_halfvec_gt' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.halfvec_cmp(pgml.halfvec, pgml.halfvec) RETURNS integer
AS 'MODULE_PATHNAME', 'pgml_halfvec_cmp' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR pgml.< (
	LEFTARG = pgml.halfvec, RIGHTARG = pgml.halfvec, FUNCTION = pgml.halfvec_lt,
	COMMUTATOR = OPERATOR(pgml.>), NEGATOR = OPERATOR(pgml.>=),
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
CREATE OPERATOR pgml.<= (
	LEFTARG = pgml.halfvec, RIGHTARG = pgml.halfvec, FUNCTION = pgml.halfvec_le,
	COMMUTATOR = OPERATOR(pgml.>=), NEGATOR = OPERATOR(pgml.>),
	RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
CREATE OPERATOR pgml.= (
	LEFTARG = pgml.halfvec, RIGHTARG = pgml.halfvec, FUNCTION = pgml.halfvec_eq,
	COMMUTATOR = OPERATOR(pgml.=), NEGATOR = OPERATOR(pgml.<>),
	RESTRICT = eqsel, JOIN = eqjoinsel, MERGES
);
CREATE OPERATOR pgml.<> (
	LEFTARG = pgml.halfvec, RIGHTARG = pgml.halfvec, FUNCTION = pgml.halfvec_ne,
	COMMUTATOR = OPERATOR(pgml.<>), NEGATOR = OPERATOR(pgml.=),
	RESTRICT = neqsel, JOIN = neqjoinsel
);
CREATE OPERATOR pgml.>= (
	LEFTARG = pgml.halfvec, RIGHTARG = pgml.halfvec, FUNCTION = pgml.halfvec_ge,
	COMMUTATOR = OPERATOR(pgml.<=), NEGATOR = OPERATOR(pgml.<),
	RESTRICT = scalargesel, JOIN = scalargejoinsel
);
CREATE OPERATOR pgml.> (
	LEFTARG = pgml.halfvec, RIGHTARG = pgml.halfvec, FUNCTION = pgml.halfvec_gt,
	COMMUTATOR = OPERATOR(pgml.<), NEGATOR = OPERATOR(pgml.<=),
	RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);

CREATE OPERATOR CLASS pgml.halfvec_ops DEFAULT FOR TYPE pgml.halfvec USING btree AS
	OPERATOR 1 pgml.< ,
	OPERATOR 2 pgml.<= ,
	OPERATOR 3 pgml.= ,
	OPERATOR 4 pgml.>= ,
	OPERATOR 5 pgml.> ,
	FUNCTION 1 pgml.halfvec_cmp(pgml.halfvec, pgml.halfvec);

-- normalization, slicing, quantization
CREATE FUNCTION pgml.l2_normalize(pgml.halfvec) RETURNS pgml.halfvec
AS 'MODULE_PATHNAME', 'pgml_halfvec_l2_normalize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.subvector(pgml.halfvec, integer, integer) RETURNS pgml.halfvec
AS 'MODULE_PATHNAME', 'pgml_halfvec_subvector' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.binary_quantize(pgml.halfvec) RETURNS bit
AS 'MODULE_PATHNAME', 'pgml_halfvec_binary_quantize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- aggregates (the state and combine function are vector's)
CREATE FUNCTION pgml.halfvec_accum(double precision[], pgml.halfvec) RETURNS double precision[]
AS 'MODULE_PATHNAME', 'pgml_halfvec_accum' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.halfvec_avg(double precision[]) RETURNS pgml.halfvec
AS 'MODULE_PATHNAME', 'pgml_halfvec_avg' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION pgml.halfvec_sum(double precision[]) RETURNS pgml.halfvec
AS 'MODULE_PATHNAME', 'pgml_halfvec_sum' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE AGGREGATE pgml.avg(pgml.halfvec) (
	SFUNC = pgml.halfvec_accum, STYPE = double precision[], INITCOND = '{0}',
	COMBINEFUNC = pgml.vector_combine, FINALFUNC = pgml.halfvec_avg,
	PARALLEL = SAFE
);
CREATE AGGREGATE pgml.sum(pgml.halfvec) (
	SFUNC = pgml.halfvec_accum, STYPE = double precision[], INITCOND = '{0}',
	COMBINEFUNC = pgml.vector_combine, FINALFUNC = pgml.halfvec_sum,
	PARALLEL = SAFE
);
