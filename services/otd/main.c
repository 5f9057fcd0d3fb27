/* main.c - the ltc-otd process: runs the OTD service (service.c) until SIGTERM. */
#include "otd.h"

int main(int argc, char **argv) {
    ltc_service_def def = otd_service();
    return ltc_service_main(&def, argc, argv);
}
