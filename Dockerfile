FROM python:3.11-slim
WORKDIR /app
# CJK fonts: the pages name a system font stack; without these, Chinese shows as boxes in
# anything rendered on the server (screenshots, PDF exports).
RUN apt-get update && apt-get install -y --no-install-recommends fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY hotline ./hotline
RUN pip install --no-cache-dir .
EXPOSE 8080
CMD ["hotline", "serve"]
