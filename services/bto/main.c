/* main.c - the ltc-bto process: runs the BTO service (service.c) until SIGTERM. */
#include "bto.h"

int main(int argc, char **argv) {
    ltc_service_def def = bto_service();
    return ltc_service_main(&def, argc, argv);
}
