/*
 * internal.h — declarations shared inside libpgml's base, not part of the public API.
 */
#ifndef PGML_BASE_INTERNAL_H
#define PGML_BASE_INTERNAL_H

/* json.c: route jansson's allocations through pgml_malloc/pgml_free (called by pgml_set_allocator). */
void		pgml_json_use_allocator(void);

#endif							/* PGML_BASE_INTERNAL_H */
