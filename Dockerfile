# The Eye's container image.
#
#   docker build -t the-eye .                    # builds from source (stage `build`)
#   docker run -p 8000:8000 -v eye-data:/data the-eye
#
# Stages: `build` compiles the release binary in the Rust image; `runtime` (the default, last)
# copies it onto slim Debian. `prebuilt` is the same runtime around a binary already built by
# `cargo build --release` on the host (same Debian release, so the same glibc): that is what
# scripts/container-check builds and runs on a machine that cannot pull the Rust image.
# The base images are arguments so that local stand-ins can take their place.
ARG RUST_IMAGE=docker.io/library/rust:1.94-slim-bookworm
ARG RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY migration migration
COPY vendor vendor
COPY benches benches
COPY src src
RUN cargo build --release --locked --bin the-eye \
    && cp target/release/the-eye /usr/local/bin/the-eye

FROM ${RUNTIME_IMAGE} AS base
# A fixed, unprivileged user owns the data volume; the service never runs as root.
RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home eye \
    && mkdir -p /data && chown eye:eye /data
# Inside the container the API listens on every interface; metrics on their own port, which
# compose.yaml does not publish. SQLite in the volume unless DATABASE_URL says otherwise.
ENV EYE_LISTEN=0.0.0.0:8000 \
    EYE_METRICS_LISTEN=0.0.0.0:9464 \
    EYE_LOG_FORMAT=json \
    DATABASE_URL=sqlite:///data/the-eye.db?mode=rwc
VOLUME ["/data"]
WORKDIR /data
EXPOSE 8000 9464
USER eye
# bash's /dev/tcp: no HTTP client needed in the image.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8000 && printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q '^HTTP/1.[01] 200' <&3"]
ENTRYPOINT ["the-eye"]
CMD ["serve"]

FROM base AS prebuilt
COPY target/release/the-eye /usr/local/bin/the-eye

FROM base AS runtime
COPY --from=build /usr/local/bin/the-eye /usr/local/bin/the-eye
