/*
 * trees.h — hooks into trees.c for the core unit tests (private to core/src/learn and core/tests).
 *
 * The algorithm tables themselves are declared in algorithms.h; nothing here is needed to use them.
 */
#ifndef PGML_LEARN_TREES_H
#define PGML_LEARN_TREES_H

#include <stddef.h>

/* How the best-split search gets each node's rows in feature order (see trees.c). */
typedef enum trees_sort_mode
{
	TREES_SORT_AUTO = 0,		/* presorted when it pays and fits in memory, else per node */
	TREES_SORT_PRESORTED,		/* force presorted feature lists */
	TREES_SORT_PER_NODE,		/* force sorting at every node */
} trees_sort_mode;

/*
 * Forces a sort mode for the fits that follow (TREES_SORT_AUTO restores the default). A process-wide
 * setting for tests only: both modes grow identical trees, which is what the tests check.
 */
void		trees_set_sort_mode(trees_sort_mode mode);

/* The shape of a fitted state: its number of trees, and the leaves and depth of tree i. */
size_t		trees_count(const void *state);
size_t		trees_leaves(const void *state, size_t i);
size_t		trees_depth(const void *state, size_t i);

#endif							/* PGML_LEARN_TREES_H */
