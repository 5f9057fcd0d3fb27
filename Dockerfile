# Dockerfile - one image holding the five LTC processes (ltc-gateway, ltc-ltb, ltc-bto, ltc-otd, ltc-dtc).
#
#   docker build -t ltc-process-center:dev .
#   docker run --rm ltc-process-center:dev help          # what the entry point accepts
#   docker run ... ltc-process-center:dev bto            # runs ltc-bto (configuration: environment only)
#   docker run ... ltc-process-center:dev bto --migrate-only
#
# Why one image and not five: the processes are built from one CMake tree, link the same runtime and the same
# libraries, and are released together (the hand-off contracts between them move in step). One image means one
# build, one scan, one digest to pin per release; the binaries are small next to the base and libraries they share,
# which five images would each carry again. docs/operations.md has the details.
#
# Build stage: Debian 12 with the -dev packages, a RelWithDebInfo build (what the test suite runs), stripped.
# Runtime stage: debian:12-slim with the runtime libraries only, tini as PID 1, a numeric non-root user, nothing
# written at run time (a read-only root filesystem works; logs go to standard output).

ARG DEBIAN_BUILD_IMAGE=debian:12
ARG DEBIAN_RUNTIME_IMAGE=debian:12-slim

FROM ${DEBIAN_BUILD_IMAGE} AS build
ENV DEBIAN_FRONTEND=noninteractive
# The build packages of scripts/setup (less the test-only ones), plus what --no-install-recommends leaves out;
# python3-protobuf runs proto/gen_access_table.py (the permission table from the contract).
RUN apt-get update -q \
    && apt-get install -y -q --no-install-recommends \
        cmake make gcc libc6-dev pkg-config \
        libgrpc-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler libprotobuf-dev grpc-proto \
        libpq-dev libssl-dev libjansson-dev uuid-dev libmicrohttpd-dev libjwt-dev \
        python3 python3-protobuf \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The context holds only the sources the binaries are built from (.dockerignore lets in nothing else; tests/ brings its
# CMakeLists.txt alone, so no test is configured).
COPY . /src/
RUN cmake -S /src -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    && cmake --build /build -j"$(nproc)" --target ltc-gateway ltc-ltb ltc-bto ltc-otd ltc-dtc \
    && install -d /out \
    && install -m 0755 -s /build/bin/ltc-gateway /build/bin/ltc-ltb /build/bin/ltc-bto /build/bin/ltc-otd \
        /build/bin/ltc-dtc /out/

FROM ${DEBIAN_RUNTIME_IMAGE} AS runtime
ENV DEBIAN_FRONTEND=noninteractive
# The libraries the binaries link (their NEEDED entries; tests/deploy checks this list against a real build), their
# own dependencies come with them; tini runs as PID 1 and passes SIGTERM on to the process.
RUN apt-get update -q \
    && apt-get install -y -q --no-install-recommends \
        libgrpc29 libprotobuf-c1 libpq5 libjansson4 libuuid1 libssl3 libmicrohttpd12 libjwt0 ca-certificates tini \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
    && groupadd --system --gid 10001 ltc \
    && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin ltc
COPY --from=build /out/ /usr/local/bin/
COPY deploy/docker/ltc-entrypoint /usr/local/bin/ltc-entrypoint
# Fails the build when a library is missing from the list above.
RUN chmod 0755 /usr/local/bin/ltc-entrypoint \
    && for b in /usr/local/bin/ltc-gateway /usr/local/bin/ltc-ltb /usr/local/bin/ltc-bto /usr/local/bin/ltc-otd \
        /usr/local/bin/ltc-dtc; do \
        if ldd "$b" | grep -q 'not found'; then ldd "$b"; exit 1; fi; \
    done

# In a container the processes listen on every interface: gRPC on the default ports, metrics on 9464 (each process
# has its own network namespace). compose and the Kubernetes manifests set the same values explicitly.
ENV LTC_GATEWAY_LISTEN=0.0.0.0:50051 \
    LTC_LTB_LISTEN=0.0.0.0:50061 \
    LTC_BTO_LISTEN=0.0.0.0:50062 \
    LTC_OTD_LISTEN=0.0.0.0:50063 \
    LTC_DTC_LISTEN=0.0.0.0:50064 \
    LTC_GATEWAY_METRICS_LISTEN=0.0.0.0:9464 \
    LTC_LTB_METRICS_LISTEN=0.0.0.0:9464 \
    LTC_BTO_METRICS_LISTEN=0.0.0.0:9464 \
    LTC_OTD_METRICS_LISTEN=0.0.0.0:9464 \
    LTC_DTC_METRICS_LISTEN=0.0.0.0:9464
EXPOSE 50051 50061 50062 50063 50064 9464

LABEL org.opencontainers.image.title="ltc-process-center" \
      org.opencontainers.image.description="LTC Process Center: gateway and the ltb, bto, otd, dtc stage services"
# Where compose mounts the writable volumes (a stage's audit spool, the gateway's refusals file): a new named volume
# takes the owner of the folder it is mounted on, so user 10001 can write there with a read-only root.
RUN mkdir -p /var/lib/ltc/audit-spool /var/lib/ltc/gateway-audit \
    && chown 10001:10001 /var/lib/ltc/audit-spool /var/lib/ltc/gateway-audit \
    && chmod 0700 /var/lib/ltc/audit-spool /var/lib/ltc/gateway-audit
WORKDIR /
USER 10001:10001
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/ltc-entrypoint"]
CMD ["help"]
