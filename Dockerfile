FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY hotline ./hotline
RUN pip install --no-cache-dir .
EXPOSE 8080
CMD ["hotline", "serve"]
