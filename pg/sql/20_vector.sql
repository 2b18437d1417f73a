
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
