// evrepl: the CLI client and operator tool (cli.md).
#include <signal.h>
#include <stdio.h>

#include "cli.h"

int
main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    return evri_cli_main(argc, argv, stdout, stderr);
}
