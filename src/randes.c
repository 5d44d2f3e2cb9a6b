/* randes: the command line (placeholder until the CLI lands). */
#include <stdio.h>

int main(void)
{
	fprintf(stderr, "randes: not built yet\n");
	return 2;
}
