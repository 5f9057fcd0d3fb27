/* main.c - the ltc-dtc process: runs the DTC service (service.c) until SIGTERM. */
#include "dtc.h"

int main(int argc, char **argv) {
    ltc_service_def def = dtc_service();
    return ltc_service_main(&def, argc, argv);
}
