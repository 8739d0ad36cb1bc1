# The odoo-migrate tool as an image: `docker compose run migrate analyze` (see README, "With
# docker-compose"), or on its own:
#   docker build -t odoo-migrate .
#   docker run --rm odoo-migrate --source postgres://… --target postgres://… analyze
#
# The binary carries its rules (rules/16-19/*.toml) and SQL (sql/) compiled in (include_str!), so
# the runtime image needs the binary only, and tzdata. It connects without TLS (no CA certificates
# needed yet) and runs no other program.

# 1.88 is the oldest Rust that builds Cargo.lock (sha2 0.11, pulled in by tokio-postgres, needs it;
# edition 2024 alone would need 1.85). `--build-arg RUST_VERSION=1.94` takes a newer one.
ARG RUST_VERSION=1.88

FROM rust:${RUST_VERSION}-slim-bookworm AS build
WORKDIR /src
# .dockerignore lets in only these: dumps, reports and target/ never reach the build.
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY rules rules
COPY sql sql
COPY odoo odoo
# The caches keep the registry and compiled dependencies between builds; the binary is copied out
# of the cached target directory because a cache mount is not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
    && install -m 0755 target/release/odoo-migrate /usr/local/bin/odoo-migrate

# Same Debian release as the builder, so the binary finds the glibc it was linked against.
FROM debian:bookworm-slim
# Time zones: `run --deadline 06:30` is read in the zone named by TZ (UTC when unset).
RUN apt-get update \
    && apt-get install -y --no-install-recommends tzdata \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/local/bin/odoo-migrate /usr/local/bin/odoo-migrate
# No root needed: the tool only talks to PostgreSQL and writes reports where it is told.
USER 10001:10001
WORKDIR /reports
ENTRYPOINT ["odoo-migrate"]
CMD ["--help"]
