# The lab in a container: `make setup` (Debian packages, a .venv with CPU torch, the project,
# KenLM's lmplz), then `make app` on 0.0.0.0:7860.
#   docker build -t audio-transformer-lab .
#   docker run --rm -p 7860:7860 audio-transformer-lab        # http://localhost:7860
#   docker run --rm -p 7860:7860 -e AUDIOLAB_PUBLIC=1 audio-transformer-lab   # public mode
FROM python:3.11-slim

# PIP_EXTRA_INDEX_URL: the Makefile's `pip install torch==2.13.0` then resolves to the CPU wheel
# (2.13.0+cpu) instead of PyPI's multi-GB CUDA build.
ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu \
    PY=python3 \
    AUDIOLAB_HOST=0.0.0.0 \
    AUDIOLAB_PORT=7860 \
    GRADIO_ANALYTICS_ENABLED=False

# make itself; the Makefile installs every other Debian package it needs (as root: no sudo)
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /lab
COPY . .
RUN make setup && rm -rf /var/lib/apt/lists/*

EXPOSE 7860
CMD ["make", "app"]
