# durabletask-emulator as a service container (see docs/docker.md).
#
#   docker build -t durabletask-emulator .
#   docker run --rm -p 4001:4001 durabletask-emulator
#
# BASE_IMAGE: any Debian-like image with python3 (3.10+) and its venv module. Both stages use it, so
# the virtual environment built in the first one runs unchanged in the second.
ARG BASE_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------- build: a venv
FROM ${BASE_IMAGE} AS build
WORKDIR /src
# Runtime dependencies pinned to the versions the test suite runs with (their whole closure, so the
# image is reproducible). Installed before the sources are copied: this layer stays cached while
# only the emulator's code changes.
RUN python3 -m venv /opt/durabletask-emulator \
    && /opt/durabletask-emulator/bin/python3 -m pip install --no-cache-dir --disable-pip-version-check \
        annotated-doc==0.0.7 \
        annotated-types==0.8.0 \
        anyio==4.16.0 \
        asyncio==4.0.0 \
        click==8.5.1 \
        durabletask==1.12.0 \
        fastapi==0.165.0 \
        grpcio==1.85.3 \
        grpcio-health-checking==1.85.1 \
        grpcio-reflection==1.85.1 \
        h11==0.16.0 \
        idna==3.20 \
        markdown-it-py==4.3.0 \
        mdurl==0.1.2 \
        opentelemetry-api==1.45.2 \
        packaging==26.3 \
        protobuf==7.36.2 \
        pydantic==2.14.4 \
        pydantic_core==2.50.5 \
        Pygments==2.21.0 \
        rich==15.0.0 \
        starlette==1.10.0 \
        typing-inspection==0.4.5 \
        typing_extensions==4.16.0 \
        uvicorn==0.55.0 \
        uvloop==0.23.0
COPY pyproject.toml README.md ./
COPY emulator ./emulator
# --no-deps: nothing beyond the pins above may come in; `pip check` proves the pins are complete.
# pip and setuptools are build tools: the runtime image does without them.
RUN /opt/durabletask-emulator/bin/python3 -m pip install --no-cache-dir --disable-pip-version-check --no-deps . \
    && /opt/durabletask-emulator/bin/python3 -m pip check \
    && /opt/durabletask-emulator/bin/python3 -m pip uninstall --yes --quiet setuptools pip

# ---------------------------------------------------------------------------- runtime
FROM ${BASE_IMAGE}
RUN useradd --no-log-init --create-home --uid 10001 --user-group emulator \
    && mkdir /data \
    && chown 10001:10001 /data
COPY --from=build /opt/durabletask-emulator /opt/durabletask-emulator
# Every option of `durabletask-emulator start` reads DURABLETASK_EMULATOR_<OPTION>; these are the
# container's defaults (override with -e). DURABLETASK_EMULATOR_PORT is a space-separated list; the
# health check follows its first port (or DURABLETASK_EMULATOR_ADDRESS when that is set).
ENV PATH=/opt/durabletask-emulator/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DURABLETASK_EMULATOR_HOST=0.0.0.0 \
    DURABLETASK_EMULATOR_PORT="4001 8080" \
    DURABLETASK_EMULATOR_DASHBOARD_PORT=8082 \
    DURABLETASK_EMULATOR_HEALTH_PORT=8081 \
    DURABLETASK_EMULATOR_DAPR_PORT=50001 \
    DURABLETASK_EMULATOR_LOG_LEVEL=info \
    DURABLETASK_EMULATOR_LOG_FORMAT=text
USER 10001:10001
WORKDIR /home/emulator
# 4001: this emulator's port; 8080: the DTS emulator's, so its connection strings work unchanged;
# 8082: the dashboard (as the DTS emulator's); 8081: GET /healthz -> 204 (the DTS emulator's probe);
# 50001: the Dapr Workflow dialect, where Dapr SDKs look when given no address.
EXPOSE 4001 8080 8081 8082 50001
HEALTHCHECK --interval=5s --timeout=5s --start-period=10s --retries=3 \
    CMD ["durabletask-emulator", "health"]
# Exec form: the emulator is PID 1 and gets SIGTERM itself (it stops gracefully, within ~2 s).
STOPSIGNAL SIGTERM
CMD ["durabletask-emulator", "start", "--no-console"]
