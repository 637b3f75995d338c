# One image for all four services. SLDS_SERVICE picks which one runs (identity, records,
# disclosure, reporting); unset, the four run mounted in one process on port 8000.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock

COPY pyproject.toml alembic.ini README.md ./
COPY migrations ./migrations
COPY shared ./shared
COPY services ./services
COPY bench ./bench
RUN pip install --no-deps -e . && useradd --system --uid 10001 slds && mkdir -p /app/var && chown slds /app/var

USER slds
EXPOSE 8000
# SLDS_DATABASE_URL, SLDS_SECRET_KEY and SLDS_TOKEN_ISSUER come from the deployment (every service
# refuses to start in production without them); run `slds db upgrade` as a job.
ENV SLDS_ENVIRONMENT=production
CMD ["sh", "-c", "exec slds serve --host 0.0.0.0 --port 8000"]
