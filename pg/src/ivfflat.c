/*
 * ivfflat.c — placeholder until the ivfflat subsystem lands.
 */
#include "pgml_pg.h"

void
pgml_ivfflat_init(void)
{
}
