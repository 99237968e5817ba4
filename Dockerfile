# The s2s_users load generator: `docker run IMAGE --headless -u 4 -r 4 ...` runs locust -f locustfiles/endurance.py.
#
#   docker build -t s2s-users .                                            # from python:3.11-slim-bookworm
#   docker build --build-arg BASE_IMAGE=s2s-base:bookworm -t s2s-users .   # offline: docker/base/build-base.sh
#
# Every command here works on both bases: python3 -m pip (a venv on PATH in s2s-base), apt-get, useradd.
ARG BASE_IMAGE=python:3.11-slim-bookworm

# The wheel, with the hot path compiled by mypyc (setup.py; S2S_USERS_COMPILE=yes: no silent pure fallback here).
# gcc stays in this stage; Python's headers come with the official image, and from python3-dev on s2s-base.
FROM ${BASE_IMAGE} AS wheel
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 S2S_USERS_COMPILE=yes
COPY docker/ca-certificates/ /usr/local/share/ca-certificates/
RUN headers=$(python3 -c 'import os, sysconfig; print(os.path.exists(sysconfig.get_paths()["include"] + "/Python.h"))') \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gcc libc6-dev ca-certificates \
      $([ "$headers" = True ] || echo python3-dev) \
 && update-ca-certificates >/dev/null \
 && rm -rf /var/lib/apt/lists/*
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt
COPY pyproject.toml setup.py MANIFEST.in README.md /tmp/s2s-src/
COPY scripts/compile.py scripts/build_backend.py /tmp/s2s-src/scripts/
COPY s2s_users /tmp/s2s-src/s2s_users
RUN python3 -m pip wheel --no-deps -w /wheels /tmp/s2s-src

FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MPLBACKEND=Agg

# soundfile loads libsndfile at run time.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libsndfile1 ca-certificates \
 && rm -rf /var/lib/apt/lists/*

# Behind a TLS-intercepting proxy, pip (and wss:// to the API) must trust the proxy's CA: any *.crt in
# docker/ca-certificates/ joins the system store, and pip uses that store instead of its own bundle.
COPY docker/ca-certificates/ /usr/local/share/ca-certificates/
RUN update-ca-certificates >/dev/null
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt

# The package alone first: changing the locustfile or the fixtures does not reinstall the dependencies. Installed
# from the wheel the build stage made (the hot path compiled), outside /app, so that `python3 -m s2s_users...` run in
# /app imports the installed package, as locust does.
COPY --from=wheel /wheels /tmp/wheels
RUN python3 -m pip install /tmp/wheels/*.whl \
 && rm -rf /tmp/wheels \
 && s2s-users version | grep -qx "hot path compiled"

WORKDIR /app

COPY locustfiles ./locustfiles
COPY audio_fixtures ./audio_fixtures
# The installed package looks for its prompts next to itself (site-packages), not in /app: name them here.
# locust reads ./locust.conf from the working directory; a --prompts on the command line still wins.
COPY docker/locust.conf ./locust.conf

# Reports go to /app/runs/<run id>/ by default: mount a volume there to keep them.
RUN groupadd --system --gid 10001 s2s \
 && useradd --system --uid 10001 --gid s2s --create-home --home-dir /home/s2s s2s \
 && mkdir -p /app/runs \
 && chown s2s:s2s /app/runs
USER s2s

# 8089: web UI; 5557: master <-> workers.
EXPOSE 8089 5557
ENTRYPOINT ["locust", "-f", "/app/locustfiles/endurance.py"]
