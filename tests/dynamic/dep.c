/*
 * dep.c: the library main.c needs, built under several names (tests.mk):
 * a sound one found through $ORIGIN, and hostile sonames ("../../etc/shadow",
 * "/etc/shadow") that the programs linked against it then name in DT_NEEDED.
 */
int dep_value(void);

int dep_value(void)
{
	return 42;
}
