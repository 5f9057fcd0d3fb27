/* main.c - the ltc-ltb process: runs the LTB service (service.c) until SIGTERM. */
#include "ltb.h"

int main(int argc, char **argv) {
    ltc_service_def def = ltb_service();
    return ltc_service_main(&def, argc, argv);
}
