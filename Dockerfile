# SAE/NMF Explorer: the Streamlit app in a container (after Streamlit's deployment guide).
#   docker build -t sae-nmf-explorer .
#   docker run --rm -p 8501:8501 -v sae-runs:/data/runs sae-nmf-explorer             # CPU
#   docker run --rm --gpus all -p 8501:8501 -v sae-runs:/data/runs sae-nmf-explorer  # NVIDIA GPU
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SAE_EXPLORER_RUNS=/data/runs \
    STREAMLIT_SERVER_HEADLESS=true \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false

WORKDIR /app

# Requirements first: this layer (torch and friends) is rebuilt only when they change; constraints.txt pins
# the versions the tests ran on.
COPY requirements.txt constraints.txt ./
RUN pip install --no-cache-dir -r requirements.txt -c constraints.txt

# A non-root user that owns the run store.
RUN useradd --create-home --uid 1000 --user-group app \
    && mkdir -p /data/runs \
    && chown -R app:app /data
COPY --chown=app:app app.py ./
COPY --chown=app:app .streamlit ./.streamlit
COPY --chown=app:app assets ./assets
COPY --chown=app:app core ./core
COPY --chown=app:app ui ./ui
COPY --chown=app:app views ./views

USER app
# Finished runs (the SQLite index and the safetensors weights) live here: mount a volume to keep them.
VOLUME ["/data/runs"]
EXPOSE 8501
# python:3.11-slim has no curl: ask the health endpoint with Python's standard library.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request, sys; sys.exit(0 if urllib.request.urlopen('http://localhost:8501/_stcore/health', timeout=4).read() == b'ok' else 1)"]

CMD ["streamlit", "run", "app.py", "--server.port", "8501", "--server.address", "0.0.0.0"]
