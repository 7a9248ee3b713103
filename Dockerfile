# SongTrackPro's image: the engine and the API (`songtrack run`) against an external PostgreSQL.
# docs/deploy.md says how to run it; docker-compose.yml runs it beside PostgreSQL 15.
#
# Small: python slim, no compiler (every dependency ships a wheel), the packages and nothing else of the
# repository (see .dockerignore); the virtual environment is built in a first stage from the pinned
# constraints and copied over.

FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY config ./config
COPY engine ./engine
COPY actors ./actors
COPY adapters ./adapters
COPY http_api ./http_api
COPY songtrack ./songtrack
# Without pip in the venv (the base image's pip installs into it): 25 MB less, and nothing to install with
# at run time.
RUN python -m venv --without-pip /opt/songtrack/venv \
    && pip --python /opt/songtrack/venv/bin/python install -c constraints.txt . \
    && /opt/songtrack/venv/bin/songtrack --version

FROM python:3.11-slim-bookworm
LABEL org.opencontainers.image.title="SongTrackPro" \
      org.opencontainers.image.description="Meta ad spend tied to Spotify results: engine and API"
RUN groupadd --system --gid 10001 songtrack \
    && useradd --system --uid 10001 --gid songtrack --home-dir /var/lib/songtrack --shell /usr/sbin/nologin songtrack \
    && install -d -o songtrack -g songtrack -m 0700 /var/lib/songtrack
COPY --from=build /opt/songtrack/venv /opt/songtrack/venv
# The embedded PostgreSQL is off: the image has no PostgreSQL server, so DATABASE_URL (or
# SONGTRACK_DATABASE_URL) is required, and `songtrack` stops with one line naming it when it is missing.
# The data directory keeps the keys that sign logins and seal provider tokens: a volume, backed up with the
# database (docs/deploy.md).
ENV PATH=/opt/songtrack/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SONGTRACK_DATA_DIR=/var/lib/songtrack \
    SONGTRACK_DATABASE_EMBEDDED=false \
    SONGTRACK_SERVER_HOST=0.0.0.0 \
    SONGTRACK_SERVER_PORT=3000 \
    SONGTRACK_LOG_FORMAT=json
VOLUME ["/var/lib/songtrack"]
WORKDIR /var/lib/songtrack
USER 10001:10001
EXPOSE 3000
# Ready means the database is up and migrated; the standard library does the request (no curl in slim).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/ready' % os.environ.get('SONGTRACK_SERVER_PORT', '3000'), timeout=4)"]
# SIGTERM drains (docs/deploy.md): give it more than [engine] shutdown_grace, e.g. docker stop -t 30.
STOPSIGNAL SIGTERM
ENTRYPOINT ["songtrack"]
CMD ["run"]
