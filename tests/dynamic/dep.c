/*
 * dep.c: the library main.c needs, built under several names (tests.mk):
 * a sound one found through $ORIGIN (and a variant answering 43, for the
 * cache's key), and hostile sonames ("../../etc/shadow", "/etc/shadow")
 * that the programs linked against it then name in DT_NEEDED.
 */
#ifndef DEP_VALUE
#define DEP_VALUE 42
#endif

int dep_value(void);

int dep_value(void)
{
	return DEP_VALUE;
}
