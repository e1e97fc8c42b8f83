/*-------------------------------------------------------------------------
 *
 * hostile_type.c
 *		The output function of a test type (test/ownership/run.sh, step 8):
 *		the value's text, after calling own_alice.pwn('type output'), an
 *		ordinary role's function that makes her superuser whenever it runs
 *		as a superuser ('type output in a definition' for the value "in a
 *		definition", which only constants in definitions hold).  Only a superuser can create a base type (and a C
 *		function), so this stands for any type whose output function runs
 *		code a role other than the superuser controls.  Built by the test
 *		with the server's pg_config; never installed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(own_hostile_out);

/* text's output, with a call of the role's function first */
Datum
own_hostile_out(PG_FUNCTION_ARGS)
{
	char	   *value = text_to_cstring(PG_GETARG_TEXT_PP(0));
	bool		definition = strcmp(value, "in a definition") == 0;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "own_hostile_out: SPI_connect failed");
	if (SPI_execute(definition ? "SELECT own_alice.pwn('type output in a definition')" :
					"SELECT own_alice.pwn('type output')", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "own_hostile_out: calling own_alice.pwn failed");
	SPI_finish();
	PG_RETURN_CSTRING(value);
}
