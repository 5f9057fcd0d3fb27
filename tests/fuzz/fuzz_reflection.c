/* fuzz_reflection.c - libFuzzer target for the server reflection answers (common/src/reflection.c, private to
 * common/: included by path), on any bytes a grpcurl-like client could send in a ServerReflectionRequest.
 * Properties, besides no crash / leak / UB:
 *   the bytes decode as a request <=> an answer is produced; the answer decodes as a ServerReflectionResponse that
 *   echoes the request, and carries one of: the file descriptors asked for (each decodes as a FileDescriptorProto),
 *   the service list, extension numbers, or an error (NOT_FOUND / INVALID_ARGUMENT / UNIMPLEMENTED). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/src/reflection.h"
#include "fuzz_check.h"
#include "google/protobuf/descriptor.pb-c.h"
#include "grpc/reflection/v1/reflection.pb-c.h"

static ltc_reflection *refl;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    static const char *const services[] = {"ltc.ltb.v1.LeadToBidService", "ltc.ltb.v1.IntakeService",
                                           "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", NULL};
    refl = ltc_reflection_create(services);
    if (!refl) abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Grpc__Reflection__V1__ServerReflectionRequest *req =
        grpc__reflection__v1__server_reflection_request__unpack(NULL, size, data);
    size_t len = 0;
    uint8_t *out = ltc_reflection_answer(refl, data, size, &len);
    FUZZ_REQUIRE((req != NULL) == (out != NULL), "request %s, answer %s", req ? "decodes" : "does not decode",
                 out ? "produced" : "missing");
    if (!out) return 0;
    Grpc__Reflection__V1__ServerReflectionResponse *resp =
        grpc__reflection__v1__server_reflection_response__unpack(NULL, len, out);
    FUZZ_REQUIRE(resp != NULL, "the answer does not decode");
    FUZZ_REQUIRE(resp->original_request != NULL &&
                     resp->original_request->message_request_case == req->message_request_case,
                 "the answer does not echo the request");
    switch (resp->message_response_case) {
        case GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE: {
            const Grpc__Reflection__V1__FileDescriptorResponse *f = resp->file_descriptor_response;
            FUZZ_REQUIRE(f->n_file_descriptor_proto > 0, "an empty file descriptor answer");
            for (size_t i = 0; i < f->n_file_descriptor_proto; i++) {
                Google__Protobuf__FileDescriptorProto *fd = google__protobuf__file_descriptor_proto__unpack(
                    NULL, f->file_descriptor_proto[i].len, f->file_descriptor_proto[i].data);
                FUZZ_REQUIRE(fd != NULL && fd->name && fd->name[0], "file descriptor %zu does not decode", i);
                google__protobuf__file_descriptor_proto__free_unpacked(fd, NULL);
            }
            break;
        }
        case GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE:
            FUZZ_REQUIRE(resp->list_services_response->n_service == 4, "%zu services listed",
                         resp->list_services_response->n_service);
            break;
        case GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ALL_EXTENSION_NUMBERS_RESPONSE: break;
        case GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE: {
            int32_t code = resp->error_response->error_code;
            FUZZ_REQUIRE(code == LTC_NOT_FOUND || code == LTC_INVALID_ARGUMENT || code == LTC_UNIMPLEMENTED,
                         "reflection error code %d", code);
            break;
        }
        default: FUZZ_REQUIRE(0, "an answer with no response (case %d)", (int)resp->message_response_case);
    }
    grpc__reflection__v1__server_reflection_response__free_unpacked(resp, NULL);
    grpc__reflection__v1__server_reflection_request__free_unpacked(req, NULL);
    free(out);
    return 0;
}
