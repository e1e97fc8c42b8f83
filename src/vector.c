/*-------------------------------------------------------------------------
 *
 * vector.c
 *		Distances between embeddings held as float4[]: ivm.l2_distance,
 *		ivm.cosine_distance, ivm.inner_product (the negative inner product,
 *		so that smaller is nearer, as pgvector's <#> is).
 *
 * Each is one pass over two arrays of float4 in a loop the compiler
 * vectorises (the Makefile builds this file with -ftree-vectorize and
 * -fassociative-math, so sums may be added in another order than one by
 * one: the last bits of a distance can differ from a sequential sum's, as
 * they do in pgvector).  Each product is taken and summed in double
 * precision: a float sum stops growing once it is 2^24 times the terms
 * (a vector of 100M elements differing by 1 everywhere had an L2 distance
 * of 8192, not 10000).
 *
 * Inputs must be one-dimensional, of equal lengths and without NULL
 * elements; a zero vector has no cosine distance.  Each of those is an
 * error that says which.
 *
 * Layer: a leaf.  Calls PostgreSQL only; nothing of ivm calls it (SQL does,
 * and views that use it).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"

PG_FUNCTION_INFO_V1(ivm_l2_distance);
PG_FUNCTION_INFO_V1(ivm_cosine_distance);
PG_FUNCTION_INFO_V1(ivm_inner_product);

/*
 * VectorOf
 *		The elements of a float4[] argument, checked: one dimension (an empty
 *		array is refused too), no NULL element.  *n gets the length.
 */
static const float *
VectorOf(ArrayType *a, const char *fname, int argno, int *n)
{
	if (ARR_ELEMTYPE(a) != FLOAT4OID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s expects arrays of real (float4)", fname)));
	if (ARR_NDIM(a) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s of an empty vector", fname),
				 errdetail("Argument %d has no element.", argno)));
	if (ARR_NDIM(a) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s expects one-dimensional vectors", fname),
				 errdetail("Argument %d has %d dimensions.", argno, ARR_NDIM(a)),
				 errhint("Pass a vector as a flat array such as '{0.1,0.2,0.3}'::real[].")));
	if (ARR_HASNULL(a) && array_contains_nulls(a))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s does not accept NULL elements", fname),
				 errdetail("Argument %d has a NULL element.", argno),
				 errhint("Replace the NULL elements, or leave such rows out of the query.")));
	*n = ARR_DIMS(a)[0];
	return (const float *) ARR_DATA_PTR(a);
}

/* both arguments, of one length */
static void
Vectors(FunctionCallInfo fcinfo, const char *fname, const float **a, const float **b, int *n)
{
	int			na;
	int			nb;

	*a = VectorOf(PG_GETARG_ARRAYTYPE_P(0), fname, 1, &na);
	*b = VectorOf(PG_GETARG_ARRAYTYPE_P(1), fname, 2, &nb);
	if (na != nb)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s of vectors of different lengths, %d and %d", fname, na, nb),
				 errhint("Compare embeddings of one model: they have one length.")));
	*n = na;
}

/*
 * ivm_l2_distance
 *		SQL: ivm.l2_distance(a real[], b real[]) returns float8: the
 *		Euclidean distance, sqrt(sum((a[i] - b[i])^2)).
 */
Datum
ivm_l2_distance(PG_FUNCTION_ARGS)
{
	const float *a;
	const float *b;
	int			n;
	double		sum = 0.0;

	Vectors(fcinfo, "ivm.l2_distance", &a, &b, &n);
	for (int i = 0; i < n; i++)
	{
		double		d = (double) a[i] - (double) b[i];

		sum += d * d;
	}
	PG_RETURN_FLOAT8(sqrt(sum));
}

/*
 * ivm_inner_product
 *		SQL: ivm.inner_product(a real[], b real[]) returns float8: minus the
 *		inner product, -sum(a[i] * b[i]) (smaller is nearer).
 */
Datum
ivm_inner_product(PG_FUNCTION_ARGS)
{
	const float *a;
	const float *b;
	int			n;
	double		dot = 0.0;

	Vectors(fcinfo, "ivm.inner_product", &a, &b, &n);
	for (int i = 0; i < n; i++)
		dot += (double) a[i] * (double) b[i];
	PG_RETURN_FLOAT8(-dot);
}

/*
 * ivm_cosine_distance
 *		SQL: ivm.cosine_distance(a real[], b real[]) returns float8: 1 - the
 *		cosine of their angle, from 0 (same direction) to 2 (opposite).  A
 *		zero vector has no direction: an error.
 */
Datum
ivm_cosine_distance(PG_FUNCTION_ARGS)
{
	const float *a;
	const float *b;
	int			n;
	double		dot = 0.0;
	double		na = 0.0;
	double		nb = 0.0;
	double		similarity;

	Vectors(fcinfo, "ivm.cosine_distance", &a, &b, &n);
	for (int i = 0; i < n; i++)
	{
		double		x = a[i];
		double		y = b[i];

		dot += x * y;
		na += x * x;
		nb += y * y;
	}
	if (na == 0.0 || nb == 0.0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("ivm.cosine_distance of a zero vector"),
				 errdetail("Argument %d has no direction: all its elements are 0.", na == 0.0 ? 1 : 2),
				 errhint("Leave zero vectors out of the query, or use ivm.l2_distance.")));
	similarity = dot / (sqrt(na) * sqrt(nb));
	/* rounding can take it a hair past +-1 */
	if (similarity > 1.0)
		similarity = 1.0;
	else if (similarity < -1.0)
		similarity = -1.0;
	PG_RETURN_FLOAT8(1.0 - similarity);
}
