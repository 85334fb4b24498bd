# casefile: the processor and the projector (and every other `casefile` command) in one image.
#   docker build -t casefile .
#   docker run --rm --network host --env-file deploy/casefile.env casefile process --metrics-port 9400
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# only what the package needs (no .kafka/, .venv/, tests or local databases in the build context copy)
COPY pyproject.toml README.md ./
COPY casefile ./casefile
COPY processor ./processor
COPY projections ./projections
COPY replay ./replay
COPY schemas ./schemas
RUN pip install . && rm -rf /src

# the policy and settings the deployment ships with (deploy/casefile.env names them)
COPY deploy/policy.toml /etc/casefile/policy.toml

RUN useradd --system --uid 10001 --home-dir /data --create-home casefile
USER casefile
WORKDIR /data
VOLUME ["/data"]

# /metrics, /healthz, /readyz when started with --metrics-port (9400 processor, 9401 projector by convention)
EXPOSE 9400 9401
ENTRYPOINT ["casefile"]
CMD ["--help"]
